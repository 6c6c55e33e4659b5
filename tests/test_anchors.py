"""Outside anchors for the architecture: the paper's Table 1 and layer lists.

The property tests compare the analytical count with fvcore on a model built from the
same plan, so a wrong plan is invisible to them. These hold the built network to facts
taken from the paper (shared/reference/vov3d-paper.md, Table 1) and from
shared/reference/ARCHITECTURES.md, written out by hand (Table 1's formulas once, in
archspace/experiment/table1.py, which `archspace experiment experiments/table1.yaml`
prints), never derived from archspace.plan.
"""

import pytest
import torch
from fvcore.nn import FlopCountAnalysis
from torch import nn

from archspace import build_model
from archspace.experiment.table1 import paper_formula as table1  # the paper's Table 1, written from the paper
from archspace.genome import Genome
from archspace.models.blocks import Residual, SqueezeExcite

def between_bn(block: str, inter: str, c: int, s: int, h: int, w: int, frames: int) -> tuple[int, int]:
    """What `inter` adds: BN-ReLU brings a BN on the tensor between the two convs, 2C
    parameters (weight, bias) and, in fvcore's eval count, 2 FLOPs per element. That
    tensor is spatially strided when the spatial conv goes first (R(2+1)D, D(2+1)D) and
    full size when the temporal one does (D(1+2)D). ReLU adds nothing to either."""
    if inter != "bn_relu":
        return 0, 0
    between = c * frames * h * w // (1 if block == "d1p2d" else s * s)
    return 2 * c, 2 * between


def _genome(block: str, inter: str = "none", t: int = 3, inner: int = 24) -> Genome:
    """A two-stage VoV3D at a width no preset has: inner (24, 48), out (12, 24)."""
    return Genome(family="vov3d", block=block, inter=inter, depths=(1, 1), inner_widths=(inner, 2 * inner),
                  out_widths=(inner // 2, inner), stem_width=8, head_width=2 * inner, modules=2, fc_width=16,
                  temporal_kernel=t, frames=4, crop=32, train_crop=32, classes=5)


def _modules(block: str, inter: str = "none", t: int = 3):
    """The two modules of the network's first T-OSA as layer sequences: module 0 strides
    by 2 (and has SE); module 1 does not, and sits in an identity residual."""
    tosa = build_model(_genome(block, inter, t)).stage2.block0.branch
    first, second = tosa.layers
    assert isinstance(second, Residual) and not hasattr(second, "shortcut")
    return first, second.branch


def _middle(module: nn.Sequential) -> nn.Sequential:
    """The middle conv of a module, with what sits between its two convs."""
    names = ("b", "b1", "b1_bn", "b1_relu", "b2")
    return nn.Sequential(*[child for name, child in module.named_children() if name in names])


CASES = [(b, "none") for b in ("bottleneck", "r2plus1d", "dw", "d1p2d", "d2p1d")] + [
    (b, i) for b in ("r2plus1d", "d1p2d", "d2p1d") for i in ("relu", "bn_relu")
]


@pytest.mark.parametrize("t", [3, 5])
@pytest.mark.parametrize("block,inter", CASES)
def test_middle_conv_params_and_flops_follow_table_1(block, inter, t):
    frames, h, w = 4, 8, 12  # a non-square map
    for module, s in zip(_modules(block, inter, t), (2, 1)):
        middle = _middle(module).eval()
        c = 24
        params, flops = table1(block, c, t, s, h, w, frames)
        extra_params, extra_flops = between_bn(block, inter, c, s, h, w, frames)
        x = torch.zeros(1, c, frames, h, w)
        analysis = FlopCountAnalysis(middle, x)
        analysis.unsupported_ops_warnings(False)
        assert sum(p.numel() for p in middle.parameters()) == params + extra_params, (block, inter, s)
        assert analysis.total() == flops + extra_flops, (block, inter, s)
        with torch.no_grad():
            assert middle(x).shape == (1, c, frames, h // s, w // s)


@pytest.mark.parametrize("block,inter", CASES)
def test_module_params_follow_the_reference_description(block, inter):
    # ARCHITECTURES.md, D(2+1)D module: 1x1x1 Cm -> Ci, BN; middle conv; BN; SE (bias) on
    # even modules; 1x1x1 Ci -> Ci/2, BN. Here Cm = 8 (stem) for module 0, Ci/2 = 12 after.
    ci, hidden = 24, 8  # SE width: round_width(24 / 16) = 8
    middle, _ = table1(block, ci, 3, 1, 1, 1, 1)
    bn_between, _ = between_bn(block, inter, ci, 1, 1, 1, 1)
    se = ci * hidden + hidden + hidden * ci + ci
    for module, cm, has_se in zip(_modules(block, inter), (8, 12), (True, False)):
        expected = cm * ci + 2 * ci + middle + bn_between + 2 * ci + (se if has_se else 0) + ci * ci // 2 + ci
        assert sum(p.numel() for p in module.parameters()) == expected, (block, inter, cm)


def _describe(module: nn.Sequential, x: torch.Tensor) -> list[tuple]:
    """(name, kind, weight shapes, output shape (C, T, H, W)) of each layer, run in turn."""
    rows = []
    for name, layer in module.named_children():
        x = layer(x)
        if isinstance(layer, nn.Conv3d):
            kind, shapes = "conv", tuple(layer.weight.shape)
        elif isinstance(layer, nn.BatchNorm3d):
            kind, shapes = "bn", tuple(layer.weight.shape)
        elif isinstance(layer, SqueezeExcite):
            kind, shapes = "se", (tuple(layer.fc1.weight.shape), tuple(layer.fc2.weight.shape))
        elif isinstance(layer, nn.ReLU):
            kind, shapes = "relu", None
        elif isinstance(layer, nn.SiLU):
            kind, shapes = "swish", None
        else:
            kind, shapes = type(layer).__name__, None
        rows.append((name, kind, shapes, tuple(x.shape[1:])))
    return rows


# Module 0 of a stage's first T-OSA on an 8 x 4 x 16 x 24 input (Cm 8, Ci 24, stride 2):
# 1x1x1 conv and BN-ReLU, the middle conv, BN, SE, Swish, 1x1x1 conv to Ci/2 and BN,
# then the module's ReLU (no residual: the width changes and it strides).
HEAD = [
    ("a", "conv", (24, 8, 1, 1, 1), (24, 4, 16, 24)),
    ("a_bn", "bn", (24,), (24, 4, 16, 24)),
    ("a_relu", "relu", None, (24, 4, 16, 24)),
]
TAIL = [
    ("b_bn", "bn", (24,), (24, 4, 8, 12)),
    ("se", "se", ((8, 24, 1, 1, 1), (24, 8, 1, 1, 1)), (24, 4, 8, 12)),
    ("b_swish", "swish", None, (24, 4, 8, 12)),
    ("c", "conv", (12, 24, 1, 1, 1), (12, 4, 8, 12)),
    ("c_bn", "bn", (12,), (12, 4, 8, 12)),
    ("relu", "relu", None, (12, 4, 8, 12)),
]
MIDDLE = {
    ("bottleneck", "none"): [("b", "conv", (24, 24, 3, 3, 3), (24, 4, 8, 12))],
    ("dw", "none"): [("b", "conv", (24, 1, 3, 3, 3), (24, 4, 8, 12))],
    ("r2plus1d", "none"): [
        ("b1", "conv", (24, 24, 1, 3, 3), (24, 4, 8, 12)),
        ("b2", "conv", (24, 24, 3, 1, 1), (24, 4, 8, 12)),
    ],
    ("d1p2d", "none"): [
        ("b1", "conv", (24, 1, 3, 1, 1), (24, 4, 16, 24)),  # temporal first, full size
        ("b2", "conv", (24, 1, 1, 3, 3), (24, 4, 8, 12)),  # then spatial, with the stride
    ],
    ("d2p1d", "none"): [
        ("b1", "conv", (24, 1, 1, 3, 3), (24, 4, 8, 12)),
        ("b2", "conv", (24, 1, 3, 1, 1), (24, 4, 8, 12)),
    ],
    ("d2p1d", "relu"): [
        ("b1", "conv", (24, 1, 1, 3, 3), (24, 4, 8, 12)),
        ("b1_relu", "relu", None, (24, 4, 8, 12)),
        ("b2", "conv", (24, 1, 3, 1, 1), (24, 4, 8, 12)),
    ],
    ("d2p1d", "bn_relu"): [
        ("b1", "conv", (24, 1, 1, 3, 3), (24, 4, 8, 12)),
        ("b1_bn", "bn", (24,), (24, 4, 8, 12)),
        ("b1_relu", "relu", None, (24, 4, 8, 12)),
        ("b2", "conv", (24, 1, 3, 1, 1), (24, 4, 8, 12)),
    ],
    ("d1p2d", "bn_relu"): [
        ("b1", "conv", (24, 1, 3, 1, 1), (24, 4, 16, 24)),
        ("b1_bn", "bn", (24,), (24, 4, 16, 24)),
        ("b1_relu", "relu", None, (24, 4, 16, 24)),
        ("b2", "conv", (24, 1, 1, 3, 3), (24, 4, 8, 12)),
    ],
    ("r2plus1d", "bn_relu"): [
        ("b1", "conv", (24, 24, 1, 3, 3), (24, 4, 8, 12)),
        ("b1_bn", "bn", (24,), (24, 4, 8, 12)),
        ("b1_relu", "relu", None, (24, 4, 8, 12)),
        ("b2", "conv", (24, 24, 3, 1, 1), (24, 4, 8, 12)),
    ],
}


@pytest.mark.parametrize("block,inter", list(MIDDLE), ids=lambda v: str(v))
def test_t_osa_module_layers_match_the_written_list(block, inter):
    first, second = _modules(block, inter)
    with torch.no_grad():
        assert _describe(first.eval(), torch.zeros(1, 8, 4, 16, 24)) == HEAD + MIDDLE[block, inter] + TAIL
        # Module 1: input Ci/2 = 12, no stride, no SE, no trailing ReLU (the residual's).
        rows = _describe(second.eval(), torch.zeros(1, 12, 4, 8, 12))
    assert [name for name, *_ in rows] == (["a", "a_bn", "a_relu"] + [n for n, *_ in MIDDLE[block, inter]]
                                           + ["b_bn", "b_swish", "c", "c_bn"])
    assert rows[0][2] == (24, 12, 1, 1, 1) and rows[-1][3] == (12, 4, 8, 12)


@pytest.mark.parametrize("ratio,hidden", [(0.0625, 8), (0.25, 8), (0.5, 16)])
def test_se_width_is_the_ratio_of_ci_rounded_to_8_and_only_on_even_modules(ratio, hidden):
    # PySlowFast's rounding: nearest multiple of 8, at least 8: 24 x 0.5 = 12 -> 16, 24 x 0.25 = 6 -> 8.
    tosa = build_model(_genome("d2p1d").replace(se_ratio=ratio, modules=3)).stage2.block0.branch
    modules = [m.branch if isinstance(m, Residual) else m for m in tosa.layers]
    assert [hasattr(m, "se") for m in modules] == [True, False, True]
    assert tuple(modules[0].se.fc1.weight.shape) == (hidden, 24, 1, 1, 1)
    assert tuple(modules[2].se.fc2.weight.shape) == (24, hidden, 1, 1, 1)


def test_se_ratio_zero_leaves_every_se_out():
    model = build_model(_genome("d2p1d").replace(se_ratio=0.0, modules=3))
    assert not any(isinstance(m, SqueezeExcite) for m in model.modules())
    with_se = build_model(_genome("d2p1d").replace(modules=3))
    # Stage 2 has modules 0 and 2 with SE (Ci 24, hidden 8); stage 3 the same at Ci 48, hidden 8.
    se_params = 2 * (24 * 8 * 2 + 24 + 8) + 2 * (48 * 8 * 2 + 48 + 8)
    assert sum(p.numel() for p in with_se.parameters()) - sum(p.numel() for p in model.parameters()) == se_params


def test_head_layers_match_the_written_list():
    # ARCHITECTURES.md's head: 1x1x1 conv to the head width, BN-ReLU, global pool, 1x1x1
    # conv to the FC width (no BN), ReLU, dropout and the linear classifier.
    head = build_model(_genome("d2p1d").replace(dropout=0.3)).head.eval()
    rows = _describe(head[:6], torch.zeros(1, 24, 4, 2, 3))
    assert rows == [
        ("conv", "conv", (48, 24, 1, 1, 1), (48, 4, 2, 3)),
        ("bn", "bn", (48,), (48, 4, 2, 3)),
        ("relu", "relu", None, (48, 4, 2, 3)),
        ("pool", "AdaptiveAvgPool3d", None, (48, 1, 1, 1)),
        ("fc_conv", "conv", (16, 48, 1, 1, 1), (16, 1, 1, 1)),
        ("fc_relu", "relu", None, (16, 1, 1, 1)),
    ]
    assert [name for name, _ in head.named_children()][6:] == ["classifier"]
    assert head.classifier.dropout.p == 0.3 and tuple(head.classifier.fc.weight.shape) == (5, 16)
