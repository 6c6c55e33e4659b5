"""The non-knob sections of a space file: base, fixed, target, constraints, objectives,
proxy, search, references.

Each `parse_*` function reads one section and returns its value (a frozen dataclass for
target, constraints, proxy and search), or raises `SpaceError` naming the key path. The defaults of the proxy and
search sections are the module constants just below: tune them here, in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from archspace.analysis.trials import DEFAULT_OBJECTIVES
from archspace.cost import COUNTERS
from archspace.genome import FIELD_NAMES, PRESETS, Genome, GenomeError
from archspace.search.schema import (
    SpaceError,
    integer,
    is_number,
    mapping,
    no_unknown,
    one_of,
    positive_number,
    show,
)

# ------------------------------------------------------------------ defaults, one place

PROXY_DATA = "synth"  # "synth": the synthetic benchmark, generated on first use
# The calibrated proxy (experiments/proxy_calibration.md): on 2 cores, networks sit at
# chance for ~100 SGD steps and then take off; M/L-sized ones at full width mostly took
# off too late for a 2-core budget. So every genome trains as a half-width copy (cost still
# counted at full width, at the target) on the synthetic benchmark's easy scene, with a
# base lr of 0.8 (0.2 at batch 16): in round 3, half-width VoV3D-M left chance by epoch 3-4
# with both seeds at lr 0.8 (20-28 % by epoch 6), later and less evenly at 0.4 and 0.2.
PROXY_FRAMES = 4
PROXY_CROP = 48
PROXY_EPOCHS = 4
PROXY_FRACTION = 1.0
PROXY_BATCH_SIZE = 16
PROXY_RECIPE = "synth_proxy"  # a recipe name (experiments/recipes/) or YAML file
PROXY_LR = 0.8  # base lr at the recipe's reference batch (64)
PROXY_WARMUP_EPOCHS = 0.3
PROXY_WIDTH = 0.5  # train a copy with every width times this; cost stays counted at full width
PROXY_SYNTH = {"videos_per_class": 40, "val_videos_per_class": 20, "frames": 32, "size": 80, "scene": "easy"}

SEARCH_SAMPLER = "nsga2"
SEARCH_TRIALS = 20
SEARCH_CONCURRENCY = 2
SEARCH_SEED = 0
SEARCH_SCHEDULER = "asha"
SEARCH_GRACE_EPOCHS = 2  # the first epoch is at chance for every genome: rank from the second
SEARCH_REDUCTION_FACTOR = 3

DEFAULT_REFERENCES = ("vov3d_m", "vov3d_l", "x3d_m", "x3d_l")

SAMPLERS = ("nsga2", "tpe", "random", "grid")
SCHEDULERS = ("asha", "none")
# Each objective has the one direction that makes sense: accuracy up, every cost down.
OBJECTIVES = {"accuracy": "max", "gflops": "min", "params_m": "min", "latency_ms": "min"}
# Options of archspace.data.synth.generate that a space may set (tests keep them in step).
SYNTH_OPTIONS = ("videos_per_class", "val_videos_per_class", "frames", "size", "seed", "codec", "layout", "scene")
_SYNTH_INT_OPTIONS = {"videos_per_class": 1, "val_videos_per_class": 1, "frames": 1, "size": 1, "seed": 0}


# -------------------------------------------------------------------- base and fixed

INPUT_FIELDS = ("frames", "crop", "train_crop", "classes")  # set by target (frames, crop also by knobs)


def parse_base(raw: Any) -> str:
    """The base preset's name."""
    if raw is None:
        raise SpaceError("base", f"missing: name the preset every genome starts from ({', '.join(PRESETS)})")
    if raw not in PRESETS:
        raise SpaceError("base", f"unknown preset {show(raw)}; choose from {', '.join(PRESETS)}")
    return raw


def parse_fixed(raw: Any, base_name: str) -> dict:
    """Genome fields pinned for the space (lists as tuples), checked on the base preset."""
    raw = mapping(raw, "fixed")
    fixed = {}
    for name, value in raw.items():
        if name in INPUT_FIELDS:
            raise SpaceError(f"fixed.{name}", "the input is set under target: frames, crop, classes")
        if name == "family":
            family = PRESETS[base_name].family
            raise SpaceError("fixed.family", f"a space's family is its base's ({family}); change the base")
        if name not in FIELD_NAMES:
            allowed = ", ".join(sorted(FIELD_NAMES - {"family", *INPUT_FIELDS}))
            raise SpaceError(f"fixed.{name}", f"unknown genome field; allowed: {allowed}")
        fixed[name] = tuple(value) if isinstance(value, list) else value
    try:
        PRESETS[base_name].replace(**fixed)
    except GenomeError as exc:
        # GenomeError messages start with the field's name: name that key if we can.
        culprit = next((n for n in fixed if str(exc).startswith(n)), None)
        raise SpaceError(f"fixed.{culprit}" if culprit else "fixed", str(exc)) from None
    return fixed


# ------------------------------------------------------------------------------ target


@dataclass(frozen=True)
class Target:
    """The input where cost is counted and constraints hold.

    `train_crop` None means "the genome's crop": a crop knob then moves both, as a
    network trained and tested at that crop. Set it to keep the train crop fixed while
    the test crop varies (the paper convention pools the head by the train crop).
    """

    frames: int
    crop: int
    train_crop: Optional[int]
    classes: int
    counter: str = "fvcore"

    def train_crop_for(self, crop: int) -> int:
        """The train crop of a genome tested at `crop`."""
        return crop if self.train_crop is None else self.train_crop


def parse_target(raw: Any, base: Genome) -> Target:
    """Read `target:`; frames, crop and classes default to the base preset's."""
    raw = mapping(raw, "target")
    no_unknown(raw, ["frames", "crop", "train_crop", "classes", "counter"], "target")
    target = Target(
        frames=integer(raw.get("frames", base.frames), "target.frames", 1),
        crop=integer(raw.get("crop", base.crop), "target.crop", 1),
        train_crop=integer(raw["train_crop"], "target.train_crop", 1) if "train_crop" in raw else None,
        classes=integer(raw.get("classes", base.classes), "target.classes", 1),
        counter=one_of(raw.get("counter", "fvcore"), COUNTERS, "target.counter"),
    )
    if target.counter == "paper" and target.crop < target.train_crop_for(target.crop):
        raise SpaceError(
            "target.crop",
            f"the paper counter pools the head by the train crop, so crop must be >= train_crop "
            f"({target.train_crop}); got {target.crop}",
        )
    return target


# ------------------------------------------------------------------------- constraints

CONSTRAINT_NAMES = ("max_gflops", "min_gflops", "max_params_m", "min_params_m")


@dataclass(frozen=True)
class Constraints:
    """Bounds on GFLOPs (flops / 1e9) and millions of parameters, at the target input."""

    max_gflops: Optional[float] = None
    min_gflops: Optional[float] = None
    max_params_m: Optional[float] = None
    min_params_m: Optional[float] = None

    def declared(self) -> tuple[str, ...]:
        """The names of the bounds that are set, in CONSTRAINT_NAMES order."""
        return tuple(name for name in CONSTRAINT_NAMES if getattr(self, name) is not None)

    def values(self, gflops: float, params_m: float) -> tuple[float, ...]:
        """One value per declared bound, Optuna's convention: <= 0 means satisfied."""
        out = []
        for name in self.declared():
            bound = getattr(self, name)
            value = gflops if name.endswith("gflops") else params_m
            out.append(value - bound if name.startswith("max") else bound - value)
        return tuple(out)

    def describe(self) -> str:
        """E.g. "gflops <= 12, params_m >= 1"; "none" when no bound is set."""
        parts = []
        for name in self.declared():
            op = "<=" if name.startswith("max") else ">="
            parts.append(f"{name[4:]} {op} {getattr(self, name):g}")
        return ", ".join(parts) or "none"


def parse_constraints(raw: Any) -> Constraints:
    raw = mapping(raw, "constraints")
    no_unknown(raw, CONSTRAINT_NAMES, "constraints")
    values = {name: positive_number(v, f"constraints.{name}") for name, v in raw.items()}
    constraints = Constraints(**values)
    for what in ("gflops", "params_m"):
        low, high = values.get(f"min_{what}"), values.get(f"max_{what}")
        if low is not None and high is not None and low >= high:
            raise SpaceError(f"constraints.min_{what}", f"must be below max_{what} ({high}); got {low}")
    return constraints


# -------------------------------------------------------------------------- objectives


def parse_objectives(raw: Any) -> dict[str, str]:
    """Read `objectives:` (name: max|min), in file order; accuracy plus at least one cost."""
    if raw is None:
        return dict(DEFAULT_OBJECTIVES)
    raw = mapping(raw, "objectives")
    no_unknown(raw, OBJECTIVES, "objectives")
    for name, direction in raw.items():
        one_of(direction, ("max", "min"), f"objectives.{name}")
        if direction != OBJECTIVES[name]:
            what = "accuracy is maximised" if name == "accuracy" else "a cost is minimised"
            raise SpaceError(f"objectives.{name}", f"must be {OBJECTIVES[name]} ({what}); got {direction}")
    if "accuracy" not in raw:
        raise SpaceError("objectives", "must include accuracy: max")
    if len(raw) < 2:
        costs = ", ".join(n for n in OBJECTIVES if n != "accuracy")
        raise SpaceError("objectives", f"give accuracy and at least one cost to trade it against ({costs})")
    return dict(raw)


# ------------------------------------------------------------------------------- proxy


@dataclass(frozen=True)
class ProxySettings:
    """How each candidate is trained: a small, fast budget shared by every trial.

    `frames` and `crop` (a multiple of 4) are the proxy input of a genome at the target
    input; other genomes scale with their input (see Space.proxy_input). `lr` is the base lr at the
    recipe's reference batch (default PROXY_LR, 0.8). `classes` trains on a subset of
    the data's classes (None: all). `synth` is passed to the synthetic generator.
    """

    data: str = PROXY_DATA
    frames: int = PROXY_FRAMES
    crop: int = PROXY_CROP
    epochs: int = PROXY_EPOCHS
    fraction: float = PROXY_FRACTION
    batch_size: int = PROXY_BATCH_SIZE
    lr: Optional[float] = PROXY_LR
    classes: Optional[tuple[str, ...]] = None
    synth: dict = field(default_factory=lambda: dict(PROXY_SYNTH))
    recipe: str = PROXY_RECIPE
    warmup_epochs: float = PROXY_WARMUP_EPOCHS
    width: float = PROXY_WIDTH


def parse_proxy(raw: Any) -> ProxySettings:
    raw = mapping(raw, "proxy")
    allowed = ["data", "frames", "crop", "epochs", "fraction", "batch_size", "lr", "classes", "synth", "recipe",
               "warmup_epochs", "width"]
    no_unknown(raw, allowed, "proxy")
    values: dict[str, Any] = {}
    if "data" in raw:
        if not isinstance(raw["data"], str) or not raw["data"].strip():
            raise SpaceError("proxy.data", f"must be 'synth' or a data folder path; got {show(raw['data'])}")
        values["data"] = raw["data"]
    for name in ("frames", "epochs", "batch_size"):
        if name in raw:
            values[name] = integer(raw[name], f"proxy.{name}", 1)
    if "crop" in raw:
        values["crop"] = integer(raw["crop"], "proxy.crop", 32)
        if values["crop"] % 4:
            # Scaled crops are rounded to multiples of 4; the target's own must be one too.
            raise SpaceError("proxy.crop", f"must be a multiple of 4; got {values['crop']}")
    if "fraction" in raw:
        fraction = positive_number(raw["fraction"], "proxy.fraction")
        if fraction > 1:
            raise SpaceError("proxy.fraction", f"must be in (0, 1], a share of the videos; got {fraction}")
        values["fraction"] = float(fraction)
    if raw.get("lr") is not None:
        values["lr"] = float(positive_number(raw["lr"], "proxy.lr"))
    if raw.get("classes") is not None:
        values["classes"] = _class_names(raw["classes"])
    if raw.get("synth") is not None:
        values["synth"] = {**PROXY_SYNTH, **_synth_options(raw["synth"])}  # given options over the defaults
    if "recipe" in raw:
        values["recipe"] = _recipe_name(raw["recipe"])
    if "width" in raw:
        width = positive_number(raw["width"], "proxy.width")
        if width > 1:
            raise SpaceError("proxy.width", f"must be in (0, 1], a share of every width; got {width}")
        values["width"] = float(width)
    if "warmup_epochs" in raw:
        if not is_number(raw["warmup_epochs"]) or raw["warmup_epochs"] < 0:
            raise SpaceError("proxy.warmup_epochs", f"must be a number >= 0; got {show(raw['warmup_epochs'])}")
        values["warmup_epochs"] = float(raw["warmup_epochs"])
    return ProxySettings(**values)


def _recipe_name(raw: Any) -> str:
    """A recipe that exists: a name in experiments/recipes/ or a YAML file."""
    from archspace.errors import UserError
    from archspace.train.recipe import load_recipe

    if not isinstance(raw, str) or not raw:
        raise SpaceError("proxy.recipe", f"must be a recipe name or YAML file; got {show(raw)}")
    try:
        load_recipe(raw)
    except UserError as exc:
        raise SpaceError("proxy.recipe", str(exc)) from None
    return raw


def _class_names(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        raise SpaceError("proxy.classes", f"must be a list of class names (null: all); got {show(raw)}")
    for i, name in enumerate(raw):
        if not isinstance(name, str) or not name:
            raise SpaceError(f"proxy.classes[{i}]", f"must be a class name; got {show(name)}")
        if name in raw[:i]:
            raise SpaceError(f"proxy.classes[{i}]", f"duplicate class {name!r}")
    return tuple(raw)


def _synth_options(raw: Any) -> dict:
    raw = mapping(raw, "proxy.synth")
    no_unknown(raw, SYNTH_OPTIONS, "proxy.synth")
    for name, minimum in _SYNTH_INT_OPTIONS.items():
        if name in raw:
            integer(raw[name], f"proxy.synth.{name}", minimum)
    for name in ("codec", "layout", "scene"):
        if name in raw and not isinstance(raw[name], str):
            raise SpaceError(f"proxy.synth.{name}", f"must be a name; got {show(raw[name])}")
    return dict(raw)


# ------------------------------------------------------------------------------ search


@dataclass(frozen=True)
class SearchSettings:
    """How the search runs: Optuna sampler, trial count, Ray Tune concurrency and scheduler.

    `time_budget` is in seconds (None: no limit); ASHA stops a trial early at
    `grace_epochs`, then keeps 1/`reduction_factor` of the trials at each rung, comparing
    them by their mean accuracy over the last `rung_mean_epochs` epochs (1: that epoch's
    own, which swings by several points from epoch to epoch on a small proxy).
    """

    sampler: str = SEARCH_SAMPLER
    trials: int = SEARCH_TRIALS
    concurrency: int = SEARCH_CONCURRENCY
    seed: int = SEARCH_SEED
    scheduler: str = SEARCH_SCHEDULER
    grace_epochs: int = SEARCH_GRACE_EPOCHS
    reduction_factor: int = SEARCH_REDUCTION_FACTOR
    rung_mean_epochs: int = 1
    time_budget: Optional[float] = None


def parse_search(raw: Any) -> SearchSettings:
    raw = mapping(raw, "search")
    allowed = ["sampler", "trials", "concurrency", "seed", "scheduler", "grace_epochs", "reduction_factor",
               "rung_mean_epochs"]
    allowed.append("time_budget")
    no_unknown(raw, allowed, "search")
    values: dict[str, Any] = {}
    if "sampler" in raw:
        values["sampler"] = one_of(raw["sampler"], SAMPLERS, "search.sampler")
    if "scheduler" in raw:
        # YAML `null` reads as None: take it for "none".
        scheduler = "none" if raw["scheduler"] is None else raw["scheduler"]
        values["scheduler"] = one_of(scheduler, SCHEDULERS, "search.scheduler")
    minimums = {"trials": 1, "concurrency": 1, "seed": 0, "grace_epochs": 1, "reduction_factor": 2,
                "rung_mean_epochs": 1}
    for name, minimum in minimums.items():
        if name in raw:
            values[name] = integer(raw[name], f"search.{name}", minimum)
    if raw.get("time_budget") is not None:
        values["time_budget"] = parse_duration(raw["time_budget"], "search.time_budget")
    return SearchSettings(**values)


_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_duration(value: Any, key: str = "time_budget") -> float:
    """Seconds from a number of seconds or a text like "90s", "15m", "1h", "1h30m"."""
    seconds: Optional[float] = None
    if is_number(value):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.replace(" ", "").lower()
        match = _DURATION.match(text)
        if text and match and any(match.groups()):
            h, m, s = (float(g) if g else 0.0 for g in match.groups())
            seconds = 3600 * h + 60 * m + s
        elif re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
    if seconds is None or seconds <= 0:
        allowed = "seconds (a number > 0) or a duration like 90s, 15m, 1h30m"
        raise SpaceError(key, f"must be {allowed}; got {show(value)}")
    return seconds


# -------------------------------------------------------------------------- references


def parse_references(raw: Any) -> tuple[str, ...]:
    """Preset names trained with the proxy as reference rows (DEFAULT_REFERENCES if absent)."""
    if raw is None:
        return DEFAULT_REFERENCES
    if not isinstance(raw, list):
        raise SpaceError("references", f"must be a list of preset names; got {show(raw)}")
    for i, name in enumerate(raw):
        if name not in PRESETS:
            choices = ", ".join(PRESETS)
            raise SpaceError(f"references[{i}]", f"unknown preset {show(name)}; choose from {choices}")
        if name in raw[:i]:
            raise SpaceError(f"references[{i}]", f"duplicate preset {name!r}")
    return tuple(raw)

