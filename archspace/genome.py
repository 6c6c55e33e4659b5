"""Genome: the one complete, explicit description of a network, and the named presets.

A Genome is frozen and hashable; everything downstream (plan, builder, cost model,
training, search) takes one. Facts behind the presets: ../shared/reference/ARCHITECTURES.md.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from archspace.errors import UserError

FAMILIES = ("vov3d", "x3d")
# Middle conv of a module (paper Table 6): (a) bottleneck, (b) R(2+1)D, (c) depthwise
# t x 3 x 3, (d) D(1+2)D, (e) D(2+1)D.
BLOCKS = ("bottleneck", "r2plus1d", "dw", "d1p2d", "d2p1d")
TWO_CONV_BLOCKS = ("r2plus1d", "d1p2d", "d2p1d")
# What sits between the two factorized convs (Table 6, rows 6-7).
INTERS = ("none", "relu", "bn_relu")


class GenomeError(UserError):
    """A genome that cannot be built; the message names the field and what is allowed."""


@dataclass(frozen=True)
class Genome:
    """Everything that determines a network's structure and its input size.

    Per-stage tuples have one entry per stage (X3D and VoV3D use four); every stage
    halves the spatial size with its first block, as does the stem.
    """

    family: str
    block: str
    depths: tuple[int, ...]  # blocks (X3D) or T-OSA blocks (VoV3D) per stage
    inner_widths: tuple[int, ...]  # width of the middle conv, per stage
    out_widths: tuple[int, ...]  # block output width, per stage
    stem_width: int  # C1
    head_width: int  # C5inner: the head's 1x1x1 conv width
    inter: str = "none"
    modules: int = 1  # modules per T-OSA (VoV3D); 1 for X3D
    fc_width: int = 2048  # the head's pooled 1x1x1 conv width
    temporal_kernel: int = 3
    stem_temporal_kernel: int = 5
    se_ratio: float = 0.0625  # 0 disables SE
    dropout: float = 0.5
    frames: int = 16
    crop: int = 224  # input crop that the cost and the network see
    train_crop: int = 224  # sets the paper convention's fixed head pool
    classes: int = 400

    def __post_init__(self):
        # Lists from YAML or --set become tuples so the genome stays hashable.
        for name in ("depths", "inner_widths", "out_widths"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        validate(self)

    @property
    def num_stages(self) -> int:
        return len(self.depths)

    def replace(self, **changes: Any) -> "Genome":
        """A copy with `changes` applied and validated; unknown names raise GenomeError."""
        unknown = sorted(set(changes) - FIELD_NAMES)
        if unknown:
            raise GenomeError(
                f"unknown genome field {unknown[0]!r}; allowed: {', '.join(sorted(FIELD_NAMES))}"
            )
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Any) -> "Genome":
        if not isinstance(data, dict):
            raise GenomeError(f"a genome must be a mapping of field: value, got {type(data).__name__}")
        unknown = sorted(set(data) - FIELD_NAMES)
        if unknown:
            raise GenomeError(
                f"unknown genome field {unknown[0]!r}; allowed: {', '.join(sorted(FIELD_NAMES))}"
            )
        missing = [f.name for f in fields(cls) if f.name not in data and _required(f)]
        if missing:
            raise GenomeError(f"genome is missing field(s): {', '.join(missing)}")
        return cls(**data)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)

    @classmethod
    def from_yaml(cls, text: str) -> "Genome":
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise GenomeError(f"malformed genome YAML{where}: {getattr(exc, 'problem', exc)}") from None
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        from archspace.io import write_text_atomic

        write_text_atomic(path, self.to_yaml())


FIELD_NAMES = frozenset(f.name for f in fields(Genome))
_TUPLE_FIELDS = ("depths", "inner_widths", "out_widths")


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def load_genome(path: str | Path) -> Genome:
    """Read a genome YAML file; unreadable or malformed files raise GenomeError."""
    from archspace.io import read_user_text

    text = read_user_text(path, "genome", GenomeError)
    try:
        return Genome.from_yaml(text)
    except GenomeError as exc:
        raise GenomeError(f"{path}: {exc}") from None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate(g: Genome) -> None:
    """Raise GenomeError naming the first field that cannot be built."""

    def fail(message: str):
        raise GenomeError(message)

    def choice(name: str, allowed: tuple[str, ...]):
        if getattr(g, name) not in allowed:
            fail(f"{name} must be one of {', '.join(allowed)}; got {getattr(g, name)!r}")

    def positive_int(name: str, value: Any, minimum: int = 1):
        if not _is_int(value) or value < minimum:
            fail(f"{name} must be an integer >= {minimum}; got {value!r}")

    choice("family", FAMILIES)
    choice("block", BLOCKS)
    choice("inter", INTERS)
    if g.inter != "none" and g.block not in TWO_CONV_BLOCKS:
        fail(
            f"inter={g.inter!r} needs a two-conv block ({', '.join(TWO_CONV_BLOCKS)}); "
            f"block {g.block!r} has one conv, so inter must be 'none'"
        )
    for name in _TUPLE_FIELDS:
        value = getattr(g, name)
        if not isinstance(value, tuple) or not value:
            fail(f"{name} must be a non-empty list of integers, one per stage; got {value!r}")
        for v in value:
            positive_int(name, v)
    n = len(g.depths)
    for name in ("inner_widths", "out_widths"):
        if len(getattr(g, name)) != n:
            fail(f"{name} has {len(getattr(g, name))} entries but depths has {n}: give one per stage")
    for name in ("stem_width", "head_width", "fc_width", "classes", "temporal_kernel", "stem_temporal_kernel"):
        positive_int(name, getattr(g, name))
    for name in ("temporal_kernel", "stem_temporal_kernel"):
        if getattr(g, name) % 2 == 0:
            fail(f"{name} must be odd so that frames are kept ('same' padding); got {getattr(g, name)}")
    positive_int("frames", g.frames)
    positive_int("modules", g.modules)
    if g.family == "x3d" and g.modules != 1:
        fail(f"modules must be 1 for family x3d (an X3D block is one module); got {g.modules}")
    if g.family == "vov3d":
        odd = [w for w in g.inner_widths if w % 2]
        if odd:
            fail(
                f"inner_widths must be even for vov3d: a T-OSA module outputs inner/2 channels; got {odd[0]}"
            )
    smallest = 2 ** (n + 1)  # the stem and every stage halve the size once
    for name in ("crop", "train_crop"):
        value = getattr(g, name)
        if not _is_int(value) or value < smallest:
            fail(
                f"{name} must be an integer >= {smallest} for {n + 1} stride-2 stages "
                f"(stem + {n} stages); got {value!r}"
            )
    if not isinstance(g.se_ratio, (int, float)) or isinstance(g.se_ratio, bool) or not 0 <= g.se_ratio < 1:
        fail(f"se_ratio must be a number in [0, 1), 0 disabling SE; got {g.se_ratio!r}")
    if not isinstance(g.dropout, (int, float)) or isinstance(g.dropout, bool) or not 0 <= g.dropout < 1:
        fail(f"dropout must be a number in [0, 1); got {g.dropout!r}")


# ----------------------------------------------------------------------------- presets


def x3d_genome(depth_factor: float, frames: int, crop: int, width_factor: float = 2.0, **extra) -> Genome:
    """X3D as in PySlowFast: widths (24, 48, 96, 192) x width_factor / 2, bottleneck 2.25."""
    base = (1, 2, 5, 3)
    stem = round_width(12 * width_factor)
    outs = tuple(stem * 2**i for i in range(4))
    inners = tuple(int(2.25 * w) for w in outs)
    return Genome(
        family="x3d",
        block="dw",
        depths=tuple(int(math.ceil(depth_factor * b)) for b in base),
        inner_widths=inners,
        out_widths=outs,
        stem_width=stem,
        head_width=inners[-1],
        frames=frames,
        crop=crop,
        train_crop=crop,
        **extra,
    )


def vov3d_genome(inner_ch: int, depths: tuple[int, ...], modules: int, **extra) -> Genome:
    """VoV3D from its one width number: inner x (1, 2, 4, 8), out x (0.5, 1, 2, 4)."""
    inners = tuple(inner_ch * 2**i for i in range(len(depths)))
    return Genome(
        family="vov3d",
        block="d2p1d",
        depths=tuple(depths),
        inner_widths=inners,
        out_widths=tuple(w // 2 for w in inners),
        stem_width=inner_ch // 2,
        head_width=inners[-1],
        modules=modules,
        **extra,
    )


def round_width(width: float, multiple: int = 8, minimum: int = 8) -> int:
    """PySlowFast's channel rounding: nearest multiple of 8, never 10% below `width`."""
    rounded = max(minimum, int(width + multiple / 2) // multiple * multiple)
    if rounded < 0.9 * width:
        rounded += multiple
    return int(rounded)


PRESETS: dict[str, Genome] = {
    "vov3d_m": vov3d_genome(40, (1, 2, 3, 2), modules=5),
    "vov3d_l": vov3d_genome(48, (1, 2, 5, 3), modules=5),
    "vov3d_m_paper": vov3d_genome(48, (1, 1, 2, 2), modules=4),
    "x3d_xs": x3d_genome(2.2, frames=4, crop=160),
    "x3d_s": x3d_genome(2.2, frames=13, crop=160),
    "x3d_m": x3d_genome(2.2, frames=16, crop=224),
    "x3d_l": x3d_genome(5.0, frames=16, crop=312),
}

# The test crop each preset was evaluated at (short side, 3 crops); the train crop is
# the genome's `train_crop`.
TEST_CROPS = {
    "vov3d_m": 256,
    "vov3d_l": 256,
    "vov3d_m_paper": 256,
    "x3d_xs": 182,
    "x3d_s": 182,
    "x3d_m": 256,
    "x3d_l": 356,
}


def preset(name: str) -> Genome:
    """The named preset genome; unknown names raise GenomeError listing the presets."""
    try:
        return PRESETS[name]
    except KeyError:
        raise GenomeError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}") from None


def parse_key_value(text: str, option: str = "--set") -> tuple[str, Any]:
    """Split `KEY=VALUE` and read VALUE as YAML (so `depths=[1,2,3,2]` is a list)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise GenomeError(f"{option} takes KEY=VALUE; got {text!r}")
    try:
        return key, yaml.safe_load(raw)
    except yaml.YAMLError:
        raise GenomeError(f"cannot parse the value of {key!r}: {raw!r}") from None


def parse_assignment(text: str) -> tuple[str, Any]:
    """A `KEY=VALUE` genome override; unknown keys raise GenomeError listing the fields."""
    key, value = parse_key_value(text)
    if key not in FIELD_NAMES:
        raise GenomeError(f"unknown genome field {key!r}; allowed: {', '.join(sorted(FIELD_NAMES))}")
    return key, value


def apply_assignments(genome: Genome, assignments: list[str]) -> Genome:
    """Apply `KEY=VALUE` overrides in one step, so intermediate states need not be valid."""
    changes = dict(parse_assignment(a) for a in assignments)
    return genome.replace(**changes) if changes else genome


def random_genome(rng, size: str = "full", **fixed: Any) -> Genome:
    """A random valid genome drawn with `rng` (a `random.Random`); `fixed` pins fields.

    size "full" draws around the paper's M and L points (4 stages, 8-32 frames,
    112-320 crops); "tiny" draws shallow, narrow networks on small clips (1-3 stages,
    1-4 frames, 32-64 crops), which fvcore traces quickly, for exhaustive checks.
    """
    tiny = size == "tiny"
    if size not in ("full", "tiny"):
        raise ValueError(f"size must be 'full' or 'tiny'; got {size!r}")
    family = fixed.get("family", rng.choice(FAMILIES))
    block = fixed.get("block", rng.choice(BLOCKS))
    inter = fixed.get("inter", rng.choice(INTERS) if block in TWO_CONV_BLOCKS else "none")
    stages = rng.randint(1, 3) if tiny else 4
    if family == "vov3d":
        base = rng.choice((4, 6, 8)) if tiny else rng.choice(range(24, 65, 8))
        inner = tuple(base * 2**i for i in range(stages))
        out = tuple(max(1, w // 2 + rng.choice((-2, 0, 0, 2))) for w in inner)
        modules = rng.randint(1, 3) if tiny else rng.randint(2, 6)
    else:
        base = rng.choice((4, 6, 8)) if tiny else rng.choice((16, 24, 32))
        out = tuple(base * 2**i for i in range(stages))
        inner = tuple(int(2.25 * w) for w in out)
        modules = 1
    depths = tuple(rng.randint(1, 2 if tiny else 4 if family == "vov3d" else 12) for _ in range(stages))
    frames = rng.randint(1, 4) if tiny else rng.choice((8, 16, 32))
    smallest = 2 ** (stages + 1)
    crop = rng.randint(max(32, smallest), 64) if tiny else rng.choice((112, 160, 224, 256, 320))
    values = dict(
        family=family,
        block=block,
        inter=inter,
        modules=modules,
        depths=depths,
        inner_widths=inner,
        out_widths=out,
        stem_width=rng.choice((4, 8)) if tiny else inner[0] // 2,
        head_width=inner[-1] if rng.random() < 0.8 else inner[-1] + 8,
        fc_width=rng.choice((16, 32)) if tiny else 2048,
        temporal_kernel=rng.choice((1, 3, 5)),
        stem_temporal_kernel=rng.choice((1, 3, 5)),
        se_ratio=rng.choice((0.0, 0.0625, 0.25)),
        frames=frames,
        crop=crop,
        train_crop=crop,
        classes=rng.randint(2, 10) if tiny else rng.choice((174, 400)),
    )
    values.update(fixed)
    return Genome(**values)
