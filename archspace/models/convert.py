"""Pretrained weights from pytorchvideo and PySlowFast checkpoints onto archspace models.

Keys are renamed by rules (regex -> replacement) into archspace's names, then loaded
into the model that the genome builds. Missing, unexpected and mis-shaped keys are
reported by name. Files are read without running code (archspace.safe_load). pytorchvideo's X3D has no BN after its first shortcut conv (PySlowFast
has one); that BN is filled in as the identity so the outputs stay the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from archspace.errors import UserError
from archspace.genome import Genome
from archspace.safe_load import is_safetensors, load_pickle, read_safetensors

SOURCES = ("pytorchvideo", "slowfast")

_PYTORCHVIDEO = [
    (r"^blocks\.0\.conv\.conv_t\.", "stem.conv_xy."),  # pytorchvideo's "conv_t" is the 1x3x3 conv
    (r"^blocks\.0\.conv\.conv_xy\.", "stem.conv_t."),  # ... and "conv_xy" the 5x1x1 one
    (r"^blocks\.0\.norm\.", "stem.bn."),
    (r"^blocks\.(\d+)\.res_blocks\.(\d+)\.", lambda m: f"stage{int(m[1]) + 1}.block{m[2]}."),
    (r"\.branch1_conv\.", ".shortcut.conv."),
    (r"\.branch1_norm\.", ".shortcut.bn."),
    (r"\.branch2\.conv_a\.", ".branch.a."),
    (r"\.branch2\.norm_a\.", ".branch.a_bn."),
    (r"\.branch2\.conv_b\.", ".branch.b."),
    (r"\.branch2\.norm_b\.0\.", ".branch.b_bn."),
    (r"\.branch2\.norm_b\.1\.block\.0\.", ".branch.se.fc1."),
    (r"\.branch2\.norm_b\.1\.block\.2\.", ".branch.se.fc2."),
    (r"\.branch2\.conv_c\.", ".branch.c."),
    (r"\.branch2\.norm_c\.", ".branch.c_bn."),
    (r"^blocks\.\d+\.pool\.pre_conv\.", "head.conv."),
    (r"^blocks\.\d+\.pool\.pre_norm\.", "head.bn."),
    (r"^blocks\.\d+\.pool\.post_conv\.", "head.fc_conv."),
    (r"^blocks\.\d+\.proj\.", "head.classifier.fc."),
]

# PySlowFast (X3D) and the VoV3D code built on it.
_SLOWFAST = [
    (r"^s1\.pathway0_stem\.conv_xy\.", "stem.conv_xy."),
    (r"^s1\.pathway0_stem\.conv\.", "stem.conv_t."),
    (r"^s1\.pathway0_stem\.bn\.", "stem.bn."),
    (r"^s(\d+)\.pathway0_res(\d+)\.", r"stage\1.block\2."),
    (r"\.branch1\.", ".shortcut.conv."),
    (r"\.branch1_bn\.", ".shortcut.bn."),
    (r"\.branch2\.", ".branch."),
    (r"^head\.conv_5\.", "head.conv."),
    (r"^head\.conv_5_bn\.", "head.bn."),
    (r"^head\.lin_5\.", "head.fc_conv."),
    (r"^head\.projection\.", "head.classifier.fc."),
]


# VoV3D only: D(2+1)D modules of a T-OSA, and its aggregation conv ("c", as X3D's last conv).
_SLOWFAST_VOV3D = [
    (r"\.branch\.layers\.(\d+)\.a\.0\.", r".branch.layers.\1.a."),
    (r"\.branch\.layers\.(\d+)\.a\.1\.", r".branch.layers.\1.a_bn."),
    (r"\.branch\.layers\.(\d+)\.c\.0\.", r".branch.layers.\1.c."),
    (r"\.branch\.layers\.(\d+)\.c\.1\.", r".branch.layers.\1.c_bn."),
    (r"\.branch\.c\.", ".branch.project.conv."),
    (r"\.branch\.c_bn\.", ".branch.project.bn."),
]


@dataclass
class ConversionReport:
    missing: list[str] = field(default_factory=list)  # archspace keys the checkpoint lacks
    unexpected: list[str] = field(default_factory=list)  # checkpoint keys with no place
    mismatched: list[str] = field(default_factory=list)  # same name, other shape
    filled_identity: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def groups(self) -> list[tuple[str, list[str]]]:
        return [
            ("missing (left as initialised)", self.missing),
            ("unexpected (ignored)", self.unexpected),
            ("shape mismatch (left as initialised)", self.mismatched),
            ("filled as identity", self.filled_identity),
        ]

    def lines(self, first: int = 5) -> list[str]:
        """One line per non-empty group: its count and its first few names."""
        out = []
        for label, keys in self.groups():
            if keys:
                more = f" and {len(keys) - first} more" if len(keys) > first else ""
                out.append(f"{len(keys)} {label}: {', '.join(keys[:first])}{more}")
        return out

    def refusal(self) -> str:
        """Why nothing was written, for an incomplete conversion."""
        counts = f"{len(self.missing)} missing, {len(self.unexpected)} unexpected, {len(self.mismatched)} mis-shaped"
        return (f"the weights do not fit the genome ({counts}); nothing written: pass --allow-missing "
                "(allow_missing=True) to write it with those left as initialised, --report FILE for every name")

    def to_dict(self) -> dict[str, list[str]]:
        return {"missing": self.missing, "unexpected": self.unexpected, "mismatched": self.mismatched,
                "filled_identity": self.filled_identity}


def rename(state: dict[str, torch.Tensor], source: str, family: str = "x3d") -> dict[str, torch.Tensor]:
    """Foreign keys renamed to archspace's; T-OSA modules with an identity residual sit
    one level deeper in archspace (`layers.N.branch.`), resolved in `convert_state`."""
    if source not in SOURCES:
        raise UserError(f"unknown weight source {source!r}; choose from {', '.join(SOURCES)}")
    rules = _PYTORCHVIDEO if source == "pytorchvideo" else _SLOWFAST
    if source == "slowfast" and family == "vov3d":
        rules = rules + _SLOWFAST_VOV3D
    out = {}
    for key, value in state.items():
        key = key.removeprefix("module.")  # saved from DistributedDataParallel
        for pattern, replacement in rules:
            key = re.sub(pattern, replacement, key)
        out[key] = value
    return out


def convert_state(state: dict[str, torch.Tensor], source: str, model) -> tuple[dict, ConversionReport]:
    """A state dict for `model` from a foreign one, and what did not fit."""
    own = model.state_dict()
    # Residual T-OSA modules are Residual(branch=...) here: map "layers.N.x" to "layers.N.branch.x".
    nested = {re.sub(r"(\.layers\.\d+)\.branch\.", r"\1.", k): k for k in own if re.search(r"\.layers\.\d+\.branch\.", k)}
    renamed = {nested.get(k, k): v for k, v in rename(state, source, model.genome.family).items()}
    report = ConversionReport()
    converted = {}
    for key, value in renamed.items():
        if key.endswith("num_batches_tracked") and key not in own:
            continue
        if key not in own:
            report.unexpected.append(key)
        elif own[key].shape != value.shape:
            report.mismatched.append(key)
        else:
            converted[key] = value
    for key in own:
        if key in converted or key in report.mismatched:
            continue
        if key.endswith("num_batches_tracked"):
            converted[key] = own[key]
            continue
        identity = _identity_bn_value(key, own, renamed)
        if identity is not None:
            converted[key] = identity
            prefix = key.rsplit(".", 1)[0]
            if prefix not in report.filled_identity:
                report.filled_identity.append(prefix)
        else:
            report.missing.append(key)
    return converted, report


def _identity_bn_value(key: str, own: dict, renamed: dict):
    """pytorchvideo's missing shortcut BN as an identity: y = (x - 0) / sqrt(1 - eps + eps) * 1 + 0."""
    prefix, _, leaf = key.rpartition(".")
    if not prefix.endswith("shortcut.bn") or f"{prefix.rsplit('.', 1)[0]}.conv.weight" not in renamed:
        return None
    like = own[key]
    if leaf in ("weight", "running_var"):
        value = torch.ones_like(like)
        return value - 1e-5 if leaf == "running_var" else value
    if leaf in ("bias", "running_mean"):
        return torch.zeros_like(like)
    return None


def read_foreign_state(path: str | Path, trust_pickle: bool = False) -> dict[str, torch.Tensor]:
    """The state dict inside a pytorchvideo or PySlowFast checkpoint file, or a .safetensors
    file. Pickled checkpoints are loaded weights-only unless `trust_pickle`: a file that asks
    for any other object raises UnsafePickle naming it."""
    if is_safetensors(path):
        return read_safetensors(path)[0]
    data = load_pickle(path, trust=trust_pickle, advice=(
        "if you trust whoever made the file, pass --trust-pickle (trust_pickle=True in Python), "
        "which lets it run any code it names"))
    for key in ("model_state", "state_dict", "model"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
            break
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise UserError(f"{str(path)!r} holds no state dict (expected tensors, or one under model_state)")
    return data


def convert_weights(source: str, path: str | Path, genome: Genome, trust_pickle: bool = False):
    """The archspace model of `genome` with the weights of a foreign checkpoint, and the report
    of what did not fit (those tensors are left as initialised)."""
    from archspace.models import build_model

    model = build_model(genome)
    state, report = convert_state(read_foreign_state(path, trust_pickle), source, model)
    model.load_state_dict(state, strict=False)
    return model, report


def save_converted(model, out: str | Path, source: str, converted_from: str | Path) -> None:
    """A converted model as an archspace checkpoint, or as a .safetensors weights file."""
    from archspace.checkpoint import save_checkpoint, save_weights

    if is_safetensors(out):
        save_weights(out, model.genome, model.state_dict(), converted_from=str(converted_from), source=source)
    else:
        save_checkpoint(out, genome=model.genome.to_dict(), model=model.state_dict(), epoch=0,
                        converted_from=str(converted_from), source=source)


def convert_checkpoint(source: str, path: str | Path, genome: Genome, out: str | Path, *,
                       allow_missing: bool = False, trust_pickle: bool = False) -> ConversionReport:
    """Convert a foreign checkpoint into an archspace checkpoint (or .safetensors) for `genome`
    at `out`. Raises UserError, writing nothing, when weights are missing, unexpected or
    mis-shaped, unless `allow_missing`."""
    model, report = convert_weights(source, path, genome, trust_pickle)
    if not (report.complete or allow_missing):
        raise UserError(report.refusal())
    save_converted(model, out, source, path)
    return report
