"""archspace: design-space exploration of efficient video-classification networks.

    import archspace
    g = archspace.preset("vov3d_m").replace(block="dw", frames=32)
    archspace.count(g).flops          # exact fvcore FLOPs, no torch needed
    model = archspace.build_model(g)  # torch.nn.Module, (N, 3, T, H, W) -> logits
"""

from archspace.cost import Cost, count
from archspace.errors import UserError
from archspace.genome import PRESETS, Genome, GenomeError, load_genome, preset
from archspace.version import __version__

__all__ = [
    "Cost",
    "Genome",
    "GenomeError",
    "PRESETS",
    "UserError",
    "build_model",
    "count",
    "export_weights",
    "load_genome",
    "load_model",
    "measure",
    "preset",
]

# torch-backed names load on first use, so costing genomes never imports torch.
_LAZY = {
    "build_model": "archspace.models",
    "measure": "archspace.measure",
    "load_model": "archspace.checkpoint",
    "export_weights": "archspace.checkpoint",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'archspace' has no attribute {name!r}")
