"""Genome -> per-layer plan: a small tree of plain, immutable records.

The plan is the single description of a network. `archspace.models` turns each record
into a torch module and `archspace.cost` sums each record's cost; neither adds layers of
its own, so the built network and its count cannot drift apart. Plain Python only: no
torch here, so planning and costing a genome takes microseconds.

Leaves: Conv, BN, Act, SE, Pool, Classifier.  Composites: Seq (named children in order),
Residual (branch + shortcut, then ReLU), Aggregate (the T-OSA concatenation).
Shapes are not stored; they follow from the input shape, so one plan serves any
frames x crop and identical blocks share one record.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple, Optional, Union

from archspace.genome import Genome, round_width

Triple = tuple[int, int, int]


class Conv(NamedTuple):
    """Conv3d. `bias` only where the reference has one (SE)."""

    cin: int
    cout: int
    kernel: Triple
    stride: Triple = (1, 1, 1)
    padding: Triple = (0, 0, 0)
    groups: int = 1
    bias: bool = False


class BN(NamedTuple):
    """BatchNorm3d; `final` marks the last BN of a residual branch (zero-initialised)."""

    channels: int
    final: bool = False


class Act(NamedTuple):
    kind: str  # "relu" | "swish"


class SE(NamedTuple):
    """Squeeze-excitation: global mean -> 1x1x1 conv (bias) -> ReLU -> 1x1x1 conv (bias) -> sigmoid -> scale."""

    channels: int
    hidden: int


class Pool(NamedTuple):
    """Average pool of the head: `kernel` None pools globally; a kernel pools with stride 1."""

    kernel: Optional[Triple] = None


class Classifier(NamedTuple):
    """Dropout then Linear at every pooled position; the logits are averaged over positions."""

    cin: int
    classes: int
    dropout: float


class Seq(NamedTuple):
    children: tuple[tuple[str, "Node"], ...]


class Residual(NamedTuple):
    """ReLU(branch(x) + shortcut(x)); `shortcut` None is the identity."""

    branch: "Node"
    shortcut: Optional["Node"]


class Aggregate(NamedTuple):
    """T-OSA: modules in series; concat [input if keep_input, out_1..out_n]; project."""

    modules: tuple["Node", ...]
    keep_input: bool
    project: "Node"


Node = Union[Conv, BN, Act, SE, Pool, Classifier, Seq, Residual, Aggregate]

RELU, SWISH = Act("relu"), Act("swish")  # shared: activations carry no size


def plan_network(genome: Genome, head_pool: str = "global") -> Seq:
    """The network of `genome` as named stages: stem, stage2..stage{n+1}, head.

    head_pool "global" pools the head over the whole map (the default network);
    "fixed" pools with kernel (frames, ceil(train_crop/32), ceil(train_crop/32)) and
    stride 1, as PySlowFast's test-time head does (the paper's counting convention).
    """
    g = genome
    stages: list[tuple[str, Node]] = [("stem", _stem(3, g.stem_width, g.stem_temporal_kernel))]
    cin = g.stem_width
    for i, (depth, inner, out) in enumerate(zip(g.depths, g.inner_widths, g.out_widths)):
        if g.family == "vov3d":
            blocks = [
                _tosa(cin if j == 0 else out, inner, out, 2 if j == 0 else 1, g.modules, _mid(g))
                for j in range(depth)
            ]
        else:
            blocks = [
                _x3d_block(cin if j == 0 else out, inner, out, 2 if j == 0 else 1, j % 2 == 0, _mid(g))
                for j in range(depth)
            ]
        stages.append((f"stage{i + 2}", Seq(tuple((f"block{j}", b) for j, b in enumerate(blocks)))))
        cin = out
    stages.append(("head", _head(g, cin, head_pool)))
    return Seq(tuple(stages))


class _Mid(NamedTuple):
    """The genome fields a module needs; hashable, so equal modules are planned once."""

    block: str
    inter: str
    t: int
    se_ratio: float


def _mid(g: Genome) -> _Mid:
    return _Mid(g.block, g.inter, g.temporal_kernel, g.se_ratio)


def middle_settings(block: str, inter: str = "none", t: int = 3) -> _Mid:
    """What `middle_conv` needs to plan one middle conv on its own (Table 1 of the paper)."""
    return _Mid(block, inter, t, 0.0)


def _stem(cin: int, cout: int, t: int) -> Seq:
    return Seq(
        (
            ("conv_xy", Conv(cin, cout, (1, 3, 3), (1, 2, 2), (0, 1, 1))),
            ("conv_t", Conv(cout, cout, (t, 1, 1), (1, 1, 1), (t // 2, 0, 0), groups=cout)),
            ("bn", BN(cout)),
            ("relu", RELU),
        )
    )


def middle_conv(c: int, stride: int, mid: _Mid) -> tuple[tuple[str, Node], ...]:
    """The middle conv of a module (paper Table 6, (a)-(e)), with `inter` between two convs."""
    t, s = mid.t, stride
    spatial = ((1, 3, 3), (1, s, s), (0, 1, 1))
    temporal = ((t, 1, 1), (1, 1, 1), (t // 2, 0, 0))
    full = ((t, 3, 3), (1, s, s), (t // 2, 1, 1))
    if mid.block == "bottleneck":
        return (("b", Conv(c, c, *full)),)
    if mid.block == "dw":
        return (("b", Conv(c, c, *full, groups=c)),)
    groups = 1 if mid.block == "r2plus1d" else c
    first, second = (temporal, spatial) if mid.block == "d1p2d" else (spatial, temporal)
    between: tuple[tuple[str, Node], ...] = ()
    if mid.inter == "relu":
        between = (("b1_relu", RELU),)
    elif mid.inter == "bn_relu":
        between = (("b1_bn", BN(c)), ("b1_relu", RELU))
    return (("b1", Conv(c, c, *first, groups=groups)),) + between + (("b2", Conv(c, c, *second, groups=groups)),)


def _bottleneck(cin: int, inner: int, out: int, stride: int, se: bool, mid: _Mid, final_bn: bool) -> tuple:
    """1x1x1 -> BN -> ReLU -> middle conv -> BN -> [SE] -> Swish -> 1x1x1 -> BN."""
    layers = [("a", Conv(cin, inner, (1, 1, 1))), ("a_bn", BN(inner)), ("a_relu", RELU)]
    layers += middle_conv(inner, stride, mid)
    layers.append(("b_bn", BN(inner)))
    if se and mid.se_ratio > 0:
        layers.append(("se", SE(inner, round_width(inner * mid.se_ratio))))
    layers += (("b_swish", SWISH), ("c", Conv(inner, out, (1, 1, 1))), ("c_bn", BN(out, final=final_bn)))
    return tuple(layers)


def _projection(cin: int, cout: int, stride: int) -> Optional[Seq]:
    """Shortcut: identity (None) unless width or resolution changes."""
    if cin == cout and stride == 1:
        return None
    return Seq((("conv", Conv(cin, cout, (1, 1, 1), (1, stride, stride))), ("bn", BN(cout))))


@lru_cache(maxsize=4096)
def _x3d_block(cin: int, inner: int, out: int, stride: int, se: bool, mid: _Mid) -> Residual:
    branch = Seq(_bottleneck(cin, inner, out, stride, se, mid, final_bn=True))
    return Residual(branch, _projection(cin, out, stride))


@lru_cache(maxsize=4096)
def _vov_module(cin: int, inner: int, stride: int, se: bool, mid: _Mid) -> Node:
    """D(2+1)D-style module: outputs inner/2; identity residual when shapes allow."""
    out = inner // 2
    residual = cin == out and stride == 1
    # The released VoV3D code zero-inits only the T-OSA's aggregation BN, not the modules'.
    branch = Seq(_bottleneck(cin, inner, out, stride, se, mid, final_bn=False))
    if residual:
        return Residual(branch, None)
    return Seq(branch.children + (("relu", RELU),))


@lru_cache(maxsize=4096)
def _tosa(cin: int, inner: int, out: int, stride: int, n_modules: int, mid: _Mid) -> Residual:
    half = inner // 2
    modules = tuple(
        _vov_module(cin if j == 0 else half, inner, stride if j == 0 else 1, j % 2 == 0, mid)
        for j in range(n_modules)
    )
    keep_input = stride == 1
    concat = (cin if keep_input else 0) + n_modules * half
    project = Seq((("conv", Conv(concat, out, (1, 1, 1))), ("bn", BN(out, final=True))))
    return Residual(Aggregate(modules, keep_input, project), _projection(cin, out, stride))


def clear_cache() -> None:
    """Forget the shared block records (a cold start, for benchmarks)."""
    for cached in (_x3d_block, _vov_module, _tosa):
        cached.cache_clear()


def head_pool_kernel(genome: Genome) -> Triple:
    """PySlowFast's test-time pool: (frames, ceil(train_crop/32), ceil(train_crop/32))."""
    side = -(-genome.train_crop // 2 ** (genome.num_stages + 1))
    return (genome.frames, side, side)


def _head(g: Genome, cin: int, head_pool: str) -> Seq:
    if head_pool not in ("global", "fixed"):
        raise ValueError(f"head_pool must be 'global' or 'fixed'; got {head_pool!r}")
    kernel = head_pool_kernel(g) if head_pool == "fixed" else None
    return Seq(
        (
            ("conv", Conv(cin, g.head_width, (1, 1, 1))),
            ("bn", BN(g.head_width)),
            ("relu", RELU),
            ("pool", Pool(kernel)),
            ("fc_conv", Conv(g.head_width, g.fc_width, (1, 1, 1))),
            ("fc_relu", RELU),
            ("classifier", Classifier(g.fc_width, g.classes, g.dropout)),
        )
    )
