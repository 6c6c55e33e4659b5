"""Analytical cost of a genome: params, FLOPs and activations, total and per stage.

Reads the same plan (`archspace.plan`) that the builder turns into modules, and imports
no torch. Two counting conventions:

- "fvcore" (default): what `fvcore.nn.FlopCountAnalysis(model.eval(), clip).total()`
  gives for one clip: conv and linear multiply-adds (bias ignored) plus 2 per element
  for every eval-mode BatchNorm; activations, pooling, SE scaling and adds count 0.
- "paper": how the published GFLOPs were made (fvcore <= 0.1.3 with PySlowFast's head):
  conv and linear multiply-adds only, the head pooling with a fixed kernel
  (frames, ceil(train_crop/32), ceil(train_crop/32)) at stride 1, so a crop larger than
  the train crop runs the head's last two layers at several positions.

Activations ("acts") are output elements of every conv and of the classifier, as pycls
counts them. Parameters are the same in both conventions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from archspace.errors import UserError
from archspace.genome import Genome
from archspace.plan import (
    BN,
    SE,
    Act,
    Aggregate,
    Classifier,
    Conv,
    Node,
    Pool,
    Residual,
    Seq,
    middle_conv,
    middle_settings,
    plan_network,
)

COUNTERS = ("fvcore", "paper")
Shape = tuple[int, ...]  # (C, T, H, W), or (classes,) after the classifier


@dataclass(frozen=True)
class StageCost:
    name: str
    params: int
    flops: int
    acts: int
    output: Shape  # (C, T, H, W) leaving the stage; (classes,) for the head


@dataclass(frozen=True)
class Cost:
    params: int
    flops: int
    acts: int
    stages: tuple[StageCost, ...]
    counter: str

    @property
    def gflops(self) -> float:
        return self.flops / 1e9

    @property
    def mparams(self) -> float:
        return self.params / 1e6

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stages"] = [dict(asdict(s), output=list(s.output)) for s in self.stages]
        return d


def count(genome: Genome, counter: str = "fvcore") -> Cost:
    """Exact cost of `genome` at its frames x crop, batch 1, under `counter`."""
    if counter not in COUNTERS:
        raise UserError(f"unknown counter {counter!r}; choose from {', '.join(COUNTERS)}")
    paper = counter == "paper"
    net = plan_network(genome, head_pool="fixed" if paper else "global")
    walker = _Walker(bn_flops_per_element=0 if paper else 2)
    shape: Shape = (3, genome.frames, genome.crop, genome.crop)
    stages = []
    for name, node in net.children:
        params, flops, acts, shape = walker.walk(node, shape)
        stages.append(StageCost(name, params, flops, acts, shape))
    return Cost(
        params=sum(s.params for s in stages),
        flops=sum(s.flops for s in stages),
        acts=sum(s.acts for s in stages),
        stages=tuple(stages),
        counter=counter,
    )


@dataclass(frozen=True)
class LayerCost:
    name: str  # the module's name in the built network (model.named_modules())
    params: int
    flops: int
    acts: int
    output: Shape


def count_layers(genome: Genome, counter: str = "fvcore") -> list[LayerCost]:
    """The cost of every layer (conv, BN, SE, pool, classifier; activations cost nothing
    and are left out), in order, named as the built model names its modules. The rows
    sum to count(genome, counter)."""
    if counter not in COUNTERS:
        raise UserError(f"unknown counter {counter!r}; choose from {', '.join(COUNTERS)}")
    net = plan_network(genome, head_pool="fixed" if counter == "paper" else "global")
    walker = _Walker(bn_flops_per_element=0 if counter == "paper" else 2)
    rows: list[LayerCost] = []

    def visit(name: str, node: Node, shape: Shape) -> Shape:
        kind = type(node)
        prefix = f"{name}." if name else ""
        if kind is Seq:
            for child_name, child in node.children:
                shape = visit(prefix + child_name, child, shape)
            return shape
        if kind is Residual:
            out = visit(prefix + "branch", node.branch, shape)
            if node.shortcut is not None:
                visit(prefix + "shortcut", node.shortcut, shape)
            return out
        if kind is Aggregate:  # as _Walker: modules in series, their outputs concatenated
            channels = shape[0] if node.keep_input else 0
            for i, module in enumerate(node.modules):
                shape = visit(f"{prefix}layers.{i}", module, shape)
                channels += shape[0]
            return visit(prefix + "project", node.project, (channels,) + shape[1:])
        params, flops, acts, out = walker.walk(node, shape)
        if kind is not Act:
            rows.append(LayerCost(name, params, flops, acts, out))
        return out

    visit("", net, (3, genome.frames, genome.crop, genome.crop))
    return rows


# Block costs across counts, by (block record, input shape, BN factor). Blocks are
# immutable and identical ones are one shared record (plan.py caches them), so repeated
# counts, and genomes that share blocks, reuse them. An entry holds its record, so the
# record's id cannot be reused while the entry exists. Kept small: a large memo costs
# the garbage collector more than it saves on random genomes.
_BLOCK_MEMO: dict = {}
_BLOCK_MEMO_LIMIT = 256


def clear_caches() -> None:
    """Forget every cached plan record and block cost (a cold start, for benchmarks)."""
    from archspace.plan import clear_cache

    _BLOCK_MEMO.clear()
    clear_cache()


class _Walker:
    """Sums (params, flops, acts) over a plan tree, propagating the shape.

    Identical sub-plans are one shared record (see plan.py), so results are memoised
    by (record, input shape) for the duration of one count, and whole blocks across counts.
    """

    def __init__(self, bn_flops_per_element: int):
        self.bn_factor = bn_flops_per_element
        self.memo: dict = {}

    def block(self, node: Residual, shape: Shape) -> tuple[int, int, int, Shape]:
        key = (id(node), shape, self.bn_factor)
        hit = _BLOCK_MEMO.get(key)
        if hit is not None and hit[0] is node:
            return hit[1]
        result = self.walk(node, shape)
        if len(_BLOCK_MEMO) >= _BLOCK_MEMO_LIMIT:
            _BLOCK_MEMO.clear()
        _BLOCK_MEMO[key] = (node, result)
        return result

    def walk(self, node: Node, shape: Shape) -> tuple[int, int, int, Shape]:
        kind = type(node)
        if kind is Conv:
            return _conv(node, shape)
        if kind is BN:
            return 2 * node.channels, self.bn_factor * _numel(shape), 0, shape
        if kind is Act:
            return 0, 0, 0, shape
        key = (id(node), shape)
        hit = self.memo.get(key)
        if hit is None:
            hit = self.memo[key] = self._composite(node, shape)
        return hit

    def _composite(self, node: Node, shape: Shape) -> tuple[int, int, int, Shape]:
        kind = type(node)
        if kind is Seq:
            children = [child for _, child in node.children]
            if children and type(children[0]) is Residual:  # a stage: a series of blocks
                params = flops = acts = 0
                for child in children:
                    p, f, a, shape = self.block(child, shape)
                    params, flops, acts = params + p, flops + f, acts + a
                return params, flops, acts, shape
            return self._series(children, shape)
        if kind is Residual:
            params, flops, acts, out = self.walk(node.branch, shape)
            if node.shortcut is not None:
                p, f, a, _ = self.walk(node.shortcut, shape)
                params, flops, acts = params + p, flops + f, acts + a
            return params, flops, acts, out
        if kind is Aggregate:
            params = flops = acts = 0
            channels = shape[0] if node.keep_input else 0
            out = shape
            for module in node.modules:
                p, f, a, out = self.walk(module, out)
                params, flops, acts = params + p, flops + f, acts + a
                channels += out[0]
            p, f, a, out = self.walk(node.project, (channels,) + out[1:])
            return params + p, flops + f, acts + a, out
        if kind is SE:
            c, h = node.channels, node.hidden
            # Two 1x1x1 convs with bias on the pooled 1x1x1 map.
            return 2 * c * h + c + h, 2 * c * h, c + h, shape
        if kind is Pool:
            return 0, 0, 0, _pool(node, shape)
        if kind is Classifier:
            positions = _numel(shape) // shape[0]
            return (
                node.cin * node.classes + node.classes,
                positions * node.cin * node.classes,
                positions * node.classes,
                (node.classes,),
            )
        raise TypeError(f"no cost rule for plan record {kind.__name__}")

    def _series(self, nodes: list, shape: Shape) -> tuple[int, int, int, Shape]:
        # The hot loop of every count: leaves are handled inline (no call per BN/Act).
        params = flops = acts = 0
        for child in nodes:
            kind = type(child)
            if kind is Act:
                continue
            if kind is BN:
                params += 2 * child.channels
                flops += self.bn_factor * _numel(shape)
                continue
            p, f, a, shape = _conv(child, shape) if kind is Conv else self.walk(child, shape)
            params, flops, acts = params + p, flops + f, acts + a
        return params, flops, acts, shape


def _numel(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _conv(c: Conv, shape: Shape) -> tuple[int, int, int, Shape]:
    _, t, h, w = shape
    kt, kh, kw = c.kernel
    st, sh, sw = c.stride
    pt, ph, pw = c.padding
    to = (t + 2 * pt - kt) // st + 1
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (w + 2 * pw - kw) // sw + 1
    weights = c.cout * (c.cin // c.groups) * kt * kh * kw
    positions = to * ho * wo
    return weights + (c.cout if c.bias else 0), weights * positions, c.cout * positions, (c.cout, to, ho, wo)


def _pool(p: Pool, shape: Shape) -> Shape:
    c, t, h, w = shape
    if p.kernel is None:
        return (c, 1, 1, 1)
    kt, kh, kw = p.kernel
    if kt > t or kh > h or kw > w:
        # ceil(train_crop / 32) <= h exactly when train_crop <= 32 h: the largest that fits.
        raise UserError(
            f"the paper counter's head pools with a fixed {kt}x{kh}x{kw} kernel (frames, train_crop/32), "
            f"larger than the final map {t}x{h}x{w} at this crop: lower the train crop to at most "
            f"{32 * min(h, w)} (--train-crop {32 * min(h, w)}, or --set train_crop={32 * min(h, w)})"
        )
    return (c, t - kt + 1, h - kh + 1, w - kw + 1)


def count_middle_conv(block: str, channels: int, frames: int, height: int, width: int, t: int = 3,
                      stride: int = 1, inter: str = "none", counter: str = "paper") -> tuple[int, int]:
    """(params, FLOPs) of one module's middle conv (the paper's Table 1: a C x T x H x W
    input, C output channels, temporal kernel t, spatial stride), from the same plan the
    builder reads."""
    if counter not in COUNTERS:
        raise UserError(f"unknown counter {counter!r}; choose from {', '.join(COUNTERS)}")
    node = Seq(middle_conv(channels, stride, middle_settings(block, inter, t)))
    params, flops, _, _ = _Walker(0 if counter == "paper" else 2).walk(node, (channels, frames, height, width))
    return params, flops
