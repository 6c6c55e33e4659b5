"""One knob of a search space: a list of choices or a numeric range.

    width:   {choices: [32, 40, 48, 56]}
    modules: {low: 3, high: 6}                  # ints: every integer from 3 to 6
    depth:   {low: 1.0, high: 5.0, step: 0.2}   # floats on a grid: 1.0, 1.2, ..., 5.0
    se_ratio: {low: 0.01, high: 0.25, log: true}  # a continuous float (not enumerable)

A range is int when low, high and step are all ints, else float. Choices may be lists
(e.g. per-stage depths); Optuna only stores scalars, so such a knob is suggested by a
label ("[1, 2, 3, 2]") and decoded back to the list, as a tuple.

Knob names are genome fields or the derived knobs width, depth and depths.N, whose
meaning (`derived_widths`, `scaled_depths`) is documented in space.py.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Optional

from archspace.genome import FIELD_NAMES, TWO_CONV_BLOCKS, Genome, vov3d_genome, x3d_genome
from archspace.search.schema import SpaceError, is_int, is_number, mapping, no_unknown, number, show

DERIVED_KNOBS = ("width", "depth")  # plus depths.N
# Genome fields that are not knobs, and why (the error says so).
NOT_KNOBS = {
    "family": "a space has one family, its base's; write another space file with a base of the other family",
    "classes": "set by target.classes",
    "train_crop": "set by target.train_crop (or follows the crop)",
}

# Floats on a step grid are rounded to this many decimals, so that 1.0 + 6 * 0.2 is 2.2
# (not 2.2000000000000006) whether it comes from Optuna or from enumeration.
_GRID_DECIMALS = 10


@dataclass(frozen=True)
class Knob:
    """A named knob: `choices`, or a range `low`..`high` with optional `step` and `log`."""

    name: str
    choices: Optional[tuple] = None
    low: Optional[float] = None
    high: Optional[float] = None
    step: Optional[float] = None
    log: bool = False
    labels: Optional[tuple[str, ...]] = field(default=None, init=False, compare=False)

    def __post_init__(self):
        if self.choices is not None and not all(_scalar(c) for c in self.choices):
            object.__setattr__(self, "labels", tuple(label(c) for c in self.choices))

    @property
    def kind(self) -> str:
        """"choice", "int" (a range of ints) or "float" (a range of floats)."""
        if self.choices is not None:
            return "choice"
        return "int" if all(is_int(v) for v in (self.low, self.high, self.step or 1)) else "float"

    @property
    def discrete(self) -> bool:
        """Whether the knob has a finite list of values (every knob but a float range without step)."""
        return self.kind != "float" or self.step is not None

    @property
    def size(self) -> Optional[int]:
        """The number of values; None for a continuous float range."""
        return len(self.values()) if self.discrete else None

    def values(self) -> tuple:
        """Every value of the knob, in order; raises SpaceError for a float range without step."""
        if self.kind == "choice":
            return self.choices
        if self.kind == "int":
            return tuple(range(self.low, self.high + 1, self.step or 1))
        if self.step is None:
            raise SpaceError(
                f"knobs.{self.name}",
                "a float range without step has no finite list of values; give step or choices",
            )
        return tuple(self._grid(k) for k in range(self._grid_count()))

    def suggest(self, trial) -> Any:
        """The value that an Optuna `trial` suggests for this knob, decoded (lists as tuples)."""
        if self.kind == "choice":
            if self.labels is None:
                return trial.suggest_categorical(self.name, list(self.choices))
            return self.decode(trial.suggest_categorical(self.name, list(self.labels)))
        if self.kind == "int":
            return trial.suggest_int(self.name, self.low, self.high, step=self.step or 1, log=self.log)
        value = trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)
        return self.snap(value)

    def decode(self, param: Any) -> Any:
        """The knob value for an Optuna param (a label for list choices); KeyError if unknown."""
        if self.labels is None:
            return self.snap(param) if self.kind == "float" else param
        try:
            return self.choices[self.labels.index(param)]
        except ValueError:
            raise KeyError(param) from None

    def encode(self, value: Any) -> Any:
        """The Optuna param for a knob value (a label for a list choice): decode's inverse."""
        if self.labels is None:
            return value
        return label(tuple(value) if isinstance(value, list) else value)

    def snap(self, value: float) -> float:
        """A float on the step grid, rounded so that equal grid points are equal floats."""
        if self.kind != "float" or self.step is None:
            return value
        return self._grid(round((value - self.low) / self.step))

    def contains(self, value: Any) -> bool:
        """Whether `value` is one of the knob's values (lists compare as tuples)."""
        if isinstance(value, list):
            value = tuple(value)
        if self.kind == "choice":
            return any(_same(value, c) for c in self.choices)
        if not is_number(value) or not self.low <= value <= self.high:
            return False
        if self.kind == "int":
            return is_int(value) and (value - self.low) % (self.step or 1) == 0
        return self.step is None or self.snap(value) == value

    def sample(self, rng: random.Random) -> Any:
        """A random value: uniform over the values, or over the range (log-uniform if `log`)."""
        if self.discrete:
            return rng.choice(self.values())
        if self.log:
            return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return rng.uniform(self.low, self.high)

    def endpoints(self) -> tuple:
        """The values checked when the space is loaded: every choice, or a range's ends."""
        if self.kind == "choice":
            return self.choices
        values = self.values() if self.discrete else (self.low, self.high)
        return (values[0], values[-1]) if len(values) > 1 else tuple(values)

    def describe(self) -> str:
        """One line for `archspace space show`: the choices or the range."""
        if self.kind == "choice":
            return "choices " + ", ".join(label(c) for c in self.choices)
        text = f"{self.kind} {self.low}..{self.high}"
        if self.step is not None:
            text += f" step {self.step}"
        if self.log:
            text += " (log)"
        return text

    def _grid_count(self) -> int:
        # Optuna's rule: a high that is off the grid is lowered to the last grid point.
        return int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1

    def _grid(self, k: int) -> float:
        return round(self.low + k * self.step, _GRID_DECIMALS)


def label(value: Any) -> str:
    """How a choice is shown and, for list choices, stored in Optuna: "[1, 2, 3, 2]"."""
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _same(a: Any, b: Any) -> bool:
    # 1 == 1.0 == True in Python; choices that differ only in type are still duplicates,
    # but a bool is never the same value as a number.
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def parse_knob(name: str, spec: Any) -> Knob:
    """The Knob for `knobs.<name>: spec`; raises SpaceError naming the bad key."""
    key = f"knobs.{name}"
    if not isinstance(spec, dict):
        form = "{choices: [...]} or {low: a, high: b}"
        raise SpaceError(key, f"must be a mapping: {form}; got {show(spec)}")
    spec = mapping(spec, key)
    if "choices" in spec:
        no_unknown(spec, ["choices"], key)
        return Knob(name, choices=_parse_choices(spec["choices"], f"{key}.choices"))
    no_unknown(spec, ["choices", "low", "high", "step", "log"], key)
    for bound in ("low", "high"):
        if bound not in spec:
            raise SpaceError(key, f"give choices: [...], or a range with both low and high (missing {bound})")
    low, high = number(spec["low"], f"{key}.low"), number(spec["high"], f"{key}.high")
    if low >= high:
        raise SpaceError(
            f"{key}.high", f"must be greater than low ({low}); got {high} (for one value, pin it under fixed)"
        )
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise SpaceError(f"{key}.log", f"must be true or false; got {show(log)}")
    if log and low <= 0:
        raise SpaceError(f"{key}.low", f"a log range needs low > 0; got {low}")
    step = spec.get("step")
    if step is not None:
        if number(step, f"{key}.step") <= 0:
            raise SpaceError(f"{key}.step", f"must be a number > 0; got {step}")
        if log:
            raise SpaceError(f"{key}.step", "a log range takes no step (Optuna samples it continuously)")
        if step > high - low:
            raise SpaceError(f"{key}.step", f"{step} is larger than the range {low}..{high}: one value")
    return Knob(name, low=low, high=high, step=step, log=log)


def _parse_choices(raw: Any, key: str) -> tuple:
    if not isinstance(raw, list):
        raise SpaceError(key, f"must be a list of values; got {show(raw)}")
    if not raw:
        raise SpaceError(key, "is empty; give at least one value")
    choices: list = []
    for i, value in enumerate(raw):
        if isinstance(value, list):
            if not value or not all(_scalar(v) and not isinstance(v, (list, dict)) for v in value):
                raise SpaceError(f"{key}[{i}]", f"a list choice must list numbers; got {show(value)}")
            value = tuple(value)
        elif not _scalar(value):
            raise SpaceError(f"{key}[{i}]", f"must be a number, a name or a list; got {show(value)}")
        if any(_same(value, c) for c in choices):
            raise SpaceError(f"{key}[{i}]", f"duplicate choice {label(value)}")
        choices.append(value)
    return tuple(choices)


def is_derived(name: str) -> bool:
    """Whether `name` is a derived knob (width, depth, depths.N) rather than a genome field."""
    return name in DERIVED_KNOBS or name.startswith("depths.")


def parse_knobs(raw: Any, base: Genome, fixed: dict) -> tuple[Knob, ...]:
    """The `knobs:` section, in application order: width, depth, depths.N, plain fields, inter.

    Checks names and the rules between knobs; the values are checked on genomes by the
    Space. Raises SpaceError naming the bad key.
    """
    raw = mapping(raw, "knobs")
    if not raw:
        raise SpaceError("knobs", "give at least one knob (e.g. block: {choices: [dw, d2p1d]})")
    stages = base.num_stages
    allowed = sorted(FIELD_NAMES - set(NOT_KNOBS)) + list(DERIVED_KNOBS) + [f"depths.N (N = 0..{stages - 1})"]
    knobs = []
    for name, spec in raw.items():
        key = f"knobs.{name}"
        if name in NOT_KNOBS:
            raise SpaceError(key, f"not a knob: {NOT_KNOBS[name]}")
        match = re.fullmatch(r"depths\.(\d+)", name)
        if match:
            if int(match.group(1)) >= stages:
                raise SpaceError(key, f"stage index out of range: the space has stages 0..{stages - 1}")
        elif name not in FIELD_NAMES and name not in DERIVED_KNOBS:
            raise SpaceError(key, f"unknown knob; allowed: {', '.join(allowed)}")
        if name in fixed:
            raise SpaceError(key, f"also pinned under fixed.{name}; remove one of the two")
        if name == "modules" and base.family != "vov3d":
            raise SpaceError(key, f"applies only to vov3d (an X3D block is one module), not to {base.family}")
        knob = parse_knob(name, spec)
        if name in ("depths", "inner_widths", "out_widths") and knob.kind == "choice":
            for i, choice in enumerate(knob.choices):
                if isinstance(choice, tuple) and len(choice) != stages:
                    where, what = f"{key}.choices[{i}]", f"has {len(choice)} stages; the base has {stages}"
                    raise SpaceError(where, what)
        knobs.append(knob)
    names = [k.name for k in knobs]
    if "depths" in names and any(is_derived(n) and n != "width" for n in names):
        raise SpaceError("knobs.depths", "cannot be combined with depth or depths.N (it would override them)")
    if "inter" in names:
        blocks = next((k.values() for k in knobs if k.name == "block"), (base.block,))
        if not any(b in TWO_CONV_BLOCKS for b in blocks):
            raise SpaceError(
                "knobs.inter",
                f"never applies: block is {', '.join(map(repr, blocks))} in every genome "
                f"(inter needs one of {', '.join(TWO_CONV_BLOCKS)})",
            )

    def order(knob: Knob) -> tuple:
        if knob.name == "width":
            return (0, 0)
        if knob.name == "depth":
            return (1, 0)
        if knob.name.startswith("depths."):
            return (2, int(knob.name.split(".")[1]))
        return (4, 0) if knob.name == "inter" else (3, 0)

    return tuple(sorted(knobs, key=order))  # sorted is stable: plain knobs keep file order


# ---------------------------------------------------------------------- derived knobs


@lru_cache(maxsize=1024)
def derived_widths(family: str, width: Any, stages: int) -> dict[str, Any]:
    """The width fields for a `width` knob value, made by the presets' own constructors.

    Raises GenomeError for a width the family cannot take (e.g. an odd VoV3D INNER_CH).
    """
    if family == "vov3d":
        g = vov3d_genome(width, depths=(1,) * stages, modules=1)
    else:
        g = x3d_genome(1.0, frames=16, crop=224, width_factor=width)
    return dict(
        inner_widths=g.inner_widths, out_widths=g.out_widths, stem_width=g.stem_width, head_width=g.head_width
    )


@lru_cache(maxsize=1024)
def scaled_depths(family: str, base_depths: tuple[int, ...], depth: Any) -> tuple[int, ...]:
    """Per-stage depths for a `depth` knob value.

    X3D: x3d_genome's depth factor on (1, 2, 5, 3), rounded up; VoV3D: a multiplier of
    `base_depths`, max(1, rounded half up).
    """
    if family == "x3d":
        return x3d_genome(depth, frames=16, crop=224).depths
    return tuple(max(1, round_half_up(depth * d)) for d in base_depths)


def round_half_up(x: float) -> int:
    # Python's round() rounds halves to even (round(2.5) == 2); a depth or frame count
    # of 2.5 should read as 3.
    return int(math.floor(x + 0.5))


def probe_values(knob: Knob, n: int = 33) -> tuple:
    """Up to `n` values spread over a knob, from one end to the other."""
    if knob.discrete:
        values = knob.values()
        if len(values) <= n:
            return values
        return tuple(values[round(i * (len(values) - 1) / (n - 1))] for i in range(n))
    if knob.log:
        ratio = knob.high / knob.low
        return tuple(knob.low * ratio ** (i / (n - 1)) for i in range(n))
    return tuple(knob.low + (knob.high - knob.low) * i / (n - 1) for i in range(n))
