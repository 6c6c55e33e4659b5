"""A search space: a YAML file of knobs that maps every knob assignment to one Genome.

    space = load_space("search_spaces/vov3d.yaml")
    knobs = space.suggest(trial)                 # inside an Optuna objective
    genome = space.genome(knobs)                 # at the target input
    cost = space.cost(genome); space.feasible(cost)
    print(format_summary(space, space.summary()))

The file (unknown keys at any level are errors):

    base: vov3d_m                  # preset every genome starts from; one family per space
    fixed: {se_ratio: 0.0625}      # genome fields pinned for the whole space
    knobs:                         # name: {choices: [...]} or {low, high[, step][, log]}
      width: {choices: [32, 40, 48]}
    target: {frames: 16, crop: 224, train_crop: 224, classes: 174, counter: fvcore}
    constraints: {max_gflops: 12}  # also min_gflops, max_params_m, min_params_m
    objectives: {accuracy: max, gflops: min}   # also params_m, latency_ms
    proxy: {...}                   # ProxySettings (settings.py)
    search: {...}                  # SearchSettings (settings.py)
    references: [vov3d_m, x3d_m]   # presets trained with the same proxy, as reference rows

Knobs are genome fields (block, inter, modules, se_ratio, temporal_kernel, depths,
frames, crop, ...) or derived knobs:

- `width`: VoV3D's INNER_CH w, widths as `vov3d_genome` makes them (inner w * 2^i,
  out inner / 2, stem w / 2, head inner[-1]); for X3D the width factor, widths as
  `x3d_genome` makes them (stem round_width(12 * factor), ...).
- `depth`: every stage's depth at once. X3D: the paper's depth factor on (1, 2, 5, 3),
  rounded up as in `x3d_genome` (2.2 is X3D-M, 5.0 is X3D-L). VoV3D: a multiplier of
  the base depths (base preset with `fixed` applied), max(1, d * base_i rounded half up).
- `depths.N`: the depth of stage N (0-based), applied after `depth`.

A genome is built in this order: base -> fixed -> width, depth -> depths.N -> plain
fields -> target input (frames, crop, train_crop, classes; a frames or crop knob replaces
the target's, and the train crop follows the crop unless target.train_crop is set).
A knob is only used where it applies: `inter` only with a two-conv block
(r2plus1d, d1p2d, d2p1d; other blocks get inter none), `modules` only in VoV3D spaces.
"""

from __future__ import annotations

import itertools
import math
import random
import re
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Optional

import yaml

from archspace.cost import Cost, count
from archspace.errors import UserError
from archspace.genome import FIELD_NAMES, PRESETS, TWO_CONV_BLOCKS, Genome, GenomeError, vov3d_genome, x3d_genome
from archspace.search.knobs import Knob, label, parse_knob
from archspace.search.schema import SpaceError, mapping, no_unknown, show
from archspace.search.settings import (
    DEFAULT_REFERENCES,
    Constraints,
    ProxySettings,
    SearchSettings,
    Target,
    parse_constraints,
    parse_objectives,
    parse_proxy,
    parse_search,
    parse_target,
)
from archspace.search.stagecost import StageCostMemo

SECTIONS = ("base", "fixed", "knobs", "target", "constraints", "objectives", "proxy", "search", "references")
DERIVED_KNOBS = ("width", "depth")  # plus depths.N
INPUT_FIELDS = ("frames", "crop", "train_crop", "classes")  # set by target (frames, crop also by knobs)
# Fields that are not knobs, and why (the error says so).
_NOT_KNOBS = {
    "family": "a space has one family, its base's; write another space file with a base of the other family",
    "classes": "set by target.classes",
    "train_crop": "set by target.train_crop (or follows the crop)",
}
_DERIVED_FIELDS = ("depths", "inner_widths", "out_widths", "stem_width", "head_width")
# Enumerating the derived knobs' product (to drop duplicate genomes) is cheap arithmetic;
# beyond this many combinations, the size is given as a count of knob assignments instead.
_DERIVED_LIMIT = 200_000
# Genomes between two looks at the clock while a summary enumerates.
_WINDOW = 2048
# How many values of a discrete knob are built and counted when the space is loaded.
_CHECK_ALL_UP_TO = 256


def load_space(path: str | Path) -> "Space":
    """Read and check a space file.

    Returns the Space. Raises UserError (one line: the file, the key path, what is
    allowed) for an unreadable or malformed file and every bad item in it.
    """
    name = str(path)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise UserError(f"cannot read space file {name!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UserError(f"space file {name!r} is not UTF-8 text") from None
    try:
        return Space.from_dict(_parse_yaml(text), path=name)
    except SpaceError as exc:
        raise exc.in_file(name) from None


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _parse_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpaceError("", f"malformed YAML{where}: {problem}") from None


class Space:
    """A checked search space. Build one with `load_space` or `Space.from_dict`.

    Attributes: `path` (the file, or "<space>"), `raw` (the parsed YAML), `base_name`,
    `base` (the base preset with `fixed` applied), `fixed`, `knobs` (a tuple of Knob in the
    order they are applied and suggested), `target` (Target), `constraints`
    (Constraints), `objectives` (name -> "max" | "min", in file order), `proxy`
    (ProxySettings), `search` (SearchSettings), `references` (preset names).
    """

    def __init__(
        self,
        *,
        path: str,
        raw: dict,
        base_name: str,
        fixed: dict,
        knobs: tuple[Knob, ...],
        target: Target,
        constraints: Constraints,
        objectives: dict[str, str],
        proxy: ProxySettings,
        search: SearchSettings,
        references: tuple[str, ...],
    ):
        self.path, self.raw, self.base_name, self.fixed = path, raw, base_name, fixed
        self.base = PRESETS[base_name].replace(**fixed)
        self.knobs, self.target, self.constraints = knobs, target, constraints
        self.objectives, self.proxy, self.search, self.references = objectives, proxy, search, references
        self._knob = {k.name: k for k in knobs}
        self._derived = [k for k in knobs if _is_derived(k.name)]
        self._plain = [k for k in knobs if not _is_derived(k.name) and k.name != "inter"]
        self._inter = self._knob.get("inter")
        # Every genome starts from these fields: base, fixed, then the target input.
        start = {name: getattr(self.base, name) for name in FIELD_NAMES}
        start.update(frames=target.frames, crop=target.crop, classes=target.classes)
        start["train_crop"] = target.train_crop_for(target.crop)
        self._start = start
        self._memo = StageCostMemo(target.counter)
        self._derived_cache: Optional[list[tuple[dict, dict]]] = None

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_dict(cls, raw: Any, path: str = "<space>") -> "Space":
        """The Space for a parsed space file; raises SpaceError naming the bad key."""
        if not isinstance(raw, dict):
            raise SpaceError("", f"a space file must be a mapping of sections ({', '.join(SECTIONS)}); got {show(raw)}")
        no_unknown(raw, SECTIONS, "")
        base_name = _parse_base(raw.get("base"))
        fixed = _parse_fixed(raw.get("fixed"), base_name)
        base = PRESETS[base_name].replace(**fixed)
        target = parse_target(raw.get("target"), base)
        knobs = _parse_knobs(raw.get("knobs"), base, fixed)
        proxy = parse_proxy(raw.get("proxy"))
        search = parse_search(raw.get("search"))
        if search.scheduler != "none" and search.grace_epochs > proxy.epochs:
            raise SpaceError(
                "search.grace_epochs", f"must be <= proxy.epochs ({proxy.epochs}); got {search.grace_epochs}"
            )
        if search.sampler == "grid":
            for knob in knobs:
                if not knob.discrete:
                    raise SpaceError(f"knobs.{knob.name}", "sampler grid needs a step or choices (a float range without step is continuous)")
        space = cls(
            path=path,
            raw=raw,
            base_name=base_name,
            fixed=fixed,
            knobs=knobs,
            target=target,
            constraints=parse_constraints(raw.get("constraints")),
            objectives=parse_objectives(raw.get("objectives")),
            proxy=proxy,
            search=search,
            references=_parse_references(raw.get("references")),
        )
        space._check_values()
        space._check_constraints()
        return space

    # ---------------------------------------------------------------------- the API

    def suggest(self, trial) -> dict[str, Any]:
        """Knob values from an Optuna `trial` (define-by-run), knob names as param names.

        Only applicable knobs are suggested (no `inter` for a one-conv block). List
        choices are stored in Optuna as labels; the values returned are the real ones.
        """
        values: dict[str, Any] = {}
        for knob in self.knobs:
            if self._applies(knob.name, values):
                values[knob.name] = knob.suggest(trial)
        return values

    def decode(self, params: dict[str, Any]) -> dict[str, Any]:
        """Knob values from a finished trial's `params` (labels of list choices decoded)."""
        out = {}
        for name, param in params.items():
            knob = self._knob.get(name)
            if knob is None:
                raise UserError(f"{self.path}: unknown knob {name!r}; this space's knobs: {', '.join(self._knob)}")
            try:
                out[name] = knob.decode(param)
            except KeyError:
                raise UserError(f"{self.path}: knob {name!r} has no value {param!r}; {knob.describe()}") from None
        return out

    def genome(self, knobs: dict[str, Any]) -> Genome:
        """The Genome for knob values (missing knobs keep the base's value), at the target input.

        Raises UserError for an unknown knob, a value outside the knob's values or a
        knob that does not apply to this genome (inter with a one-conv block), and
        GenomeError for a genome that cannot be built.
        """
        for name, value in knobs.items():
            knob = self._knob.get(name)
            if knob is None:
                raise UserError(f"{self.path}: unknown knob {name!r}; this space's knobs: {', '.join(self._knob)}")
            if not knob.contains(value):
                raise UserError(f"{self.path}: knob {name}: {show(value)} is not a value of the space ({knob.describe()})")
        if "inter" in knobs and not self._applies("inter", knobs):
            raise UserError(
                f"{self.path}: knob inter does not apply to block {self._block(knobs)!r} "
                f"(only to {', '.join(TWO_CONV_BLOCKS)})"
            )
        return Genome(**self._fields(knobs))

    def cost(self, genome: Genome) -> Cost:
        """The exact cost of `genome` under the target counter."""
        return count(genome, self.target.counter)

    def constraint_values(self, cost: Cost) -> tuple[float, ...]:
        """One value per declared constraint, Optuna's convention (<= 0: satisfied); () if none."""
        return self.constraints.values(cost.flops / 1e9, cost.params / 1e6)

    def feasible(self, cost: Cost) -> bool:
        """Whether `cost` meets every constraint."""
        return all(v <= 0 for v in self.constraint_values(cost))

    def proxy_input(self, genome: Genome) -> tuple[int, int]:
        """(frames, crop) to train `genome` at on the proxy budget.

        Scaled from the proxy's by the genome's input relative to the target's: frames
        proxy.frames * g.frames / target.frames (at least 1), crop proxy.crop * g.crop /
        target.crop to a multiple of 4 (at least 32), both rounded half up. A genome at
        the target input gets exactly (proxy.frames, proxy.crop). Why: X3D-XS/S/M are one
        network at different inputs; a proxy that ignored the input would train them alike.
        """
        frames = max(1, _round_half_up(self.proxy.frames * genome.frames / self.target.frames))
        crop = max(32, 4 * _round_half_up(self.proxy.crop * genome.crop / self.target.crop / 4))
        return frames, crop

    def enumerate(self) -> Iterator[dict[str, Any]]:
        """Every knob assignment that gives a distinct genome, applicable knobs only.

        When different values give the same genome (depth multipliers that round alike,
        a stem_width knob overriding width's stem), the first assignment stands for them.
        Raises UserError if a knob is a float range without step.
        """
        derived = [assignment for assignment, _ in self._derived_states()]
        for plain, _ in self._plain_combos():
            for assignment in derived:
                yield {**assignment, **plain}

    def size(self) -> tuple[Optional[int], bool]:
        """(number of genomes, exact): exact distinct genomes when every knob is discrete.

        Counted without building genomes: distinct results of the derived knobs (width,
        depth, depths.N) times the assignments of the other knobs, which give distinct
        genomes. (None, False) for a space with a continuous knob; (assignments, False)
        when the derived knobs have more than 200,000 combinations to compare.
        """
        if not all(k.discrete for k in self.knobs):
            return None, False
        derived = math.prod(k.size for k in self._derived)
        plain = self._plain_count()
        if derived > _DERIVED_LIMIT:
            return derived * plain, False
        return len(self._derived_states()) * plain, True

    def summary(self, time_limit_s: float = 60.0, sample: int = 20000, seed: int = 0) -> dict[str, Any]:
        """Size, feasible count and GFLOPs / params ranges of the space at the target.

        Returns a dict: size (int or None), size_exact, feasible, exact, gflops_min,
        gflops_max, params_m_min, params_m_max, seconds. exact=True: every distinct
        genome was counted. Otherwise (a continuous knob, enumeration projected past
        `time_limit_s`, or a limit <= 0) `sample` genomes drawn uniformly with `seed` were counted, and
        the dict adds sample, feasible_fraction with its 95% Wilson interval
        (feasible_fraction_low/high) and, when size is known, feasible_low/high (counts).
        """
        start = time.perf_counter()
        size, size_exact = self.size()
        result = None
        if size_exact and time_limit_s > 0:
            result = self._exact_summary(size, start + time_limit_s)
        if result is None:
            result = self._sampled_summary(size, sample, seed)
        result.update(size=size, size_exact=size_exact, seconds=round(time.perf_counter() - start, 3))
        return result

    # ------------------------------------------------------------- building genomes

    def _applies(self, name: str, values: dict) -> bool:
        return name != "inter" or self._block(values) in TWO_CONV_BLOCKS

    def _block(self, values: dict) -> str:
        return values.get("block", self._start["block"])

    def _fields(self, values: dict) -> dict[str, Any]:
        """Every genome field for knob `values`, in the documented order (not validated)."""
        fields = dict(self._start)
        fields.update(self._derive(values))
        for knob in self._plain:
            if knob.name in values:
                fields[knob.name] = _tuple(values[knob.name])
        fields.update(self._input(values))
        if self._applies("inter", fields):
            if "inter" in values:
                fields["inter"] = values["inter"]
        else:
            fields["inter"] = "none"
        return fields

    def _derive(self, values: dict) -> dict[str, Any]:
        """The fields that width, depth and depths.N set (empty if none is given)."""
        out: dict[str, Any] = {}
        depths = self.base.depths
        if "depth" in values:
            depths = _scaled_depths(self.base.family, depths, values["depth"])
        if "width" in values:
            out.update(_widths(self.base.family, values["width"], len(depths)))
        indexed = [(int(name.split(".")[1]), v) for name, v in values.items() if name.startswith("depths.")]
        if indexed:
            depths = list(depths)
            for i, v in indexed:
                depths[i] = v
            depths = tuple(depths)
        if depths != self.base.depths:
            out["depths"] = depths
        return out

    def _input(self, values: dict) -> dict[str, Any]:
        out = {}
        if "frames" in values:
            out["frames"] = values["frames"]
        if "crop" in values:
            out["crop"] = values["crop"]
            out["train_crop"] = self.target.train_crop_for(values["crop"])
        return out

    # ------------------------------------------------------------------ enumeration

    def _derived_states(self) -> list[tuple[dict, dict]]:
        """(assignment, fields) per distinct result of the derived knobs, first assignment kept.

        Results are compared on the fields that no plain knob overrides, so that every
        plain assignment then gives a distinct genome. Computed once per space.
        """
        if self._derived_cache is None:
            self._derived_cache = self._distinct_derived()
        return self._derived_cache

    def _distinct_derived(self) -> list[tuple[dict, dict]]:
        names = [k.name for k in self._derived]
        overridden = {k.name for k in self._plain}
        kept = [f for f in _DERIVED_FIELDS if f not in overridden]
        states: dict[tuple, tuple[dict, dict]] = {}
        for values in itertools.product(*(k.values() for k in self._derived)):
            assignment = dict(zip(names, values))
            fields = self._derive(assignment)
            key = tuple(fields.get(f, self._start[f]) for f in kept)
            if key not in states:
                states[key] = (assignment, fields)
        return list(states.values())

    def _plain_combos(self) -> Iterator[tuple[dict, dict]]:
        """(assignment, fields) for every assignment of the plain knobs, inter where it applies."""
        names = [k.name for k in self._plain]
        for values in itertools.product(*(k.values() for k in self._plain)):
            assignment = dict(zip(names, values))
            fields = dict(assignment)
            fields.update(self._input(assignment))
            block = fields.get("block", self._start["block"])
            if block not in TWO_CONV_BLOCKS:
                fields["inter"] = "none"
                yield assignment, fields
            elif self._inter is None:
                yield assignment, fields
            else:
                for inter in self._inter.values():
                    yield {**assignment, "inter": inter}, {**fields, "inter": inter}

    def _plain_count(self) -> int:
        others = math.prod(k.size for k in self._plain if k.name != "block")
        blocks = self._knob["block"].values() if "block" in self._knob else (self._start["block"],)
        n_inter = self._inter.size if self._inter is not None else 1
        return others * sum(n_inter if b in TWO_CONV_BLOCKS else 1 for b in blocks)

    def _random_assignment(self, rng: random.Random) -> dict[str, Any]:
        """A genome drawn uniformly from the space (uniform over knob values if continuous)."""
        values: dict[str, Any] = {}
        if all(k.discrete for k in self._derived) and math.prod(k.size for k in self._derived) <= _DERIVED_LIMIT:
            values.update(rng.choice(self._derived_states())[0])
        else:
            values.update({k.name: k.sample(rng) for k in self._derived})
        for knob in self._plain:
            if knob.name != "block":
                values[knob.name] = knob.sample(rng)
        pairs = self._block_inter_pairs()
        block, inter = pairs[rng.randrange(len(pairs))]
        if "block" in self._knob:
            values["block"] = block
        if inter is not None:
            values["inter"] = inter
        return {k.name: values[k.name] for k in self.knobs if k.name in values}

    def _block_inter_pairs(self) -> list[tuple[str, Optional[str]]]:
        """(block, inter) for every genome-distinct choice of the two (inter None: not used)."""
        blocks = self._knob["block"].values() if "block" in self._knob else (self._start["block"],)
        pairs: list[tuple[str, Optional[str]]] = []
        for block in blocks:
            if block in TWO_CONV_BLOCKS and self._inter is not None:
                pairs += [(block, inter) for inter in self._inter.values()]
            else:
                pairs.append((block, None))
        return pairs

    # ---------------------------------------------------------------------- summary

    def _fast_cost(self, fields: dict) -> tuple[float, float]:
        params, flops = self._memo.cost(fields)
        return flops / 1e9, params / 1e6

    def _exact_summary(self, size: int, deadline: float) -> Optional[dict]:
        """Count every genome; None if the deadline is projected to pass first."""
        c = self.constraints
        # The constraints as plain bounds: the hot loop compares, calls nothing.
        g_min = c.min_gflops if c.min_gflops is not None else -math.inf
        g_max = c.max_gflops if c.max_gflops is not None else math.inf
        p_min = c.min_params_m if c.min_params_m is not None else -math.inf
        p_max = c.max_params_m if c.max_params_m is not None else math.inf
        feasible = 0
        g_lo = p_lo = math.inf
        g_hi = p_hi = -math.inf
        cost = self._memo.cost
        derived = _covering_first([{**self._start, **fields} for _, fields in self._derived_states()])
        done = 0
        window_start = time.perf_counter()
        # Plain knobs outside, derived inside: neighbouring genomes then share their
        # blocks, so the counts of new stages hit cost.py's block memo.
        for _, plain in self._plain_combos():
            for base in derived:
                params, flops = cost({**base, **plain})
                gflops, params_m = flops / 1e9, params / 1e6
                if gflops < g_lo:
                    g_lo = gflops
                if gflops > g_hi:
                    g_hi = gflops
                if params_m < p_lo:
                    p_lo = params_m
                if params_m > p_hi:
                    p_hi = params_m
                if g_min <= gflops <= g_max and p_min <= params_m <= p_max:
                    feasible += 1
                done += 1
                if done % _WINDOW == 0:
                    now = time.perf_counter()
                    # Project from the last window: early windows are slower (more new stages).
                    projected = now + (size - done) * (now - window_start) / _WINDOW
                    if now > deadline or projected > deadline:
                        return None
                    window_start = now
        return dict(
            exact=True,
            feasible=feasible,
            gflops_min=g_lo,
            gflops_max=g_hi,
            params_m_min=p_lo,
            params_m_max=p_hi,
        )

    def _sampled_summary(self, size: Optional[int], sample: int, seed: int) -> dict:
        rng = random.Random(seed)
        feasible = 0
        gflops_seen, params_seen = [], []
        for _ in range(sample):
            gflops, params_m = self._fast_cost(self._fields(self._random_assignment(rng)))
            gflops_seen.append(gflops)
            params_seen.append(params_m)
            if all(v <= 0 for v in self.constraints.values(gflops, params_m)):
                feasible += 1
        fraction = feasible / sample
        low, high = wilson_interval(feasible, sample)
        result = dict(
            exact=False,
            sample=sample,
            feasible_fraction=fraction,
            feasible_fraction_low=low,
            feasible_fraction_high=high,
            feasible=None,
            gflops_min=min(gflops_seen),
            gflops_max=max(gflops_seen),
            params_m_min=min(params_seen),
            params_m_max=max(params_seen),
        )
        if size is not None:
            result.update(
                feasible=round(fraction * size),
                feasible_low=math.floor(low * size),
                feasible_high=math.ceil(high * size),
            )
        return result

    # ------------------------------------------------------------------------ checks

    def _check_values(self) -> None:
        """Build and count a genome with each knob value (all of a small knob's, a range's ends)."""
        for knob in self.knobs:
            values = knob.values() if knob.discrete and knob.size <= _CHECK_ALL_UP_TO else knob.endpoints()
            for value in values:
                assignment = {knob.name: value}
                if knob.name == "inter":
                    assignment["block"] = self._a_two_conv_block()
                try:
                    count(Genome(**self._fields(assignment)), self.target.counter)
                except UserError as exc:  # GenomeError, or the paper head's pool
                    raise SpaceError(f"knobs.{knob.name}", f"value {label(value)}: {exc}") from None
        try:
            count(Genome(**self._fields({})), self.target.counter)
        except UserError as exc:
            raise SpaceError("target", f"the base {self.base_name} at the target input: {exc}") from None

    def _a_two_conv_block(self) -> str:
        blocks = self._knob["block"].values() if "block" in self._knob else (self._start["block"],)
        return next(b for b in blocks if b in TWO_CONV_BLOCKS)

    def _check_constraints(self) -> None:
        """Raise SpaceError if no genome of the space meets the constraints.

        Small spaces are checked genome by genome; others by a seeded sample followed by
        a greedy descent on the constraint violation, which finds feasible genomes of
        any monotone cost band.
        """
        declared = self.constraints.declared()
        if not declared:
            return
        best = {name: math.inf for name in declared}  # smallest value of each constraint seen
        checked = 0

        def violation(assignment: dict) -> float:
            nonlocal checked
            checked += 1
            values = self.constraints.values(*self._fast_cost(self._fields(assignment)))
            for name, v in zip(declared, values):
                best[name] = min(best[name], v)
            return sum(max(0.0, v) / getattr(self.constraints, n) for n, v in zip(declared, values))

        size, size_exact = self.size()
        if size_exact and size <= 5000:
            if any(violation(a) == 0 for a in self.enumerate()):
                return
            how = f"every one of the {size} genomes checked"
        else:
            rng = random.Random(0)
            samples = [self._random_assignment(rng) for _ in range(200)]
            scored = sorted(((violation(a), i) for i, a in enumerate(samples)))
            if scored[0][0] == 0 or self._descend(samples[scored[0][1]], scored[0][0], violation):
                return
            how = f"{checked} genomes searched"
        for name in declared:
            if best[name] > 0:
                bound = getattr(self.constraints, name)
                unit = "GFLOPs" if name.endswith("gflops") else "M params"
                side = "lowest" if name.startswith("max") else "highest"
                seen = bound + best[name] if name.startswith("max") else bound - best[name]
                raise SpaceError(
                    f"constraints.{name}",
                    f"no genome of the space meets {name} {bound:g}: the {side} found is {seen:.4g} {unit} ({how})",
                )
        raise SpaceError("constraints", f"no genome of the space meets all of them together ({how})")

    def _descend(self, assignment: dict, score: float, violation) -> bool:
        """Greedy coordinate descent on `violation` from `assignment`; True once it reaches 0."""
        for _ in range(6):
            improved = False
            for knob in self.knobs:
                for value in _probe_values(knob):
                    candidate = self._applicable({**assignment, knob.name: value})
                    if knob.name not in candidate:
                        continue
                    v = violation(candidate)
                    if v < score:
                        assignment, score, improved = candidate, v, True
                        if score == 0:
                            return True
            if not improved:
                return False
        return False

    def _applicable(self, values: dict) -> dict:
        """`values` with inapplicable knobs dropped and missing applicable ones set to a first value."""
        out = {}
        for knob in self.knobs:
            if self._applies(knob.name, out | values):
                out[knob.name] = values.get(knob.name, knob.endpoints()[0])
        return out


# ----------------------------------------------------------------------------- parsing


def _is_derived(name: str) -> bool:
    return name in DERIVED_KNOBS or name.startswith("depths.")


def _parse_base(raw: Any) -> str:
    if raw is None:
        raise SpaceError("base", f"missing: name the preset every genome starts from ({', '.join(PRESETS)})")
    if raw not in PRESETS:
        raise SpaceError("base", f"unknown preset {show(raw)}; choose from {', '.join(PRESETS)}")
    return raw


def _parse_fixed(raw: Any, base_name: str) -> dict:
    raw = mapping(raw, "fixed")
    fixed = {}
    for name, value in raw.items():
        if name in INPUT_FIELDS:
            raise SpaceError(f"fixed.{name}", f"the input is set under target (frames, crop, train_crop, classes)")
        if name == "family":
            raise SpaceError("fixed.family", f"a space's family is its base's ({PRESETS[base_name].family}); choose a base of the other family")
        if name not in FIELD_NAMES:
            allowed = ", ".join(sorted(FIELD_NAMES - {"family", *INPUT_FIELDS}))
            raise SpaceError(f"fixed.{name}", f"unknown genome field; allowed: {allowed}")
        fixed[name] = _tuple(value)
    try:
        PRESETS[base_name].replace(**fixed)
    except GenomeError as exc:
        culprit = next((n for n in fixed if str(exc).startswith(n)), None)
        raise SpaceError(f"fixed.{culprit}" if culprit else "fixed", str(exc)) from None
    return fixed


def _parse_references(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return DEFAULT_REFERENCES
    if not isinstance(raw, list):
        raise SpaceError("references", f"must be a list of preset names; got {show(raw)}")
    for i, name in enumerate(raw):
        if name not in PRESETS:
            raise SpaceError(f"references[{i}]", f"unknown preset {show(name)}; choose from {', '.join(PRESETS)}")
        if name in raw[:i]:
            raise SpaceError(f"references[{i}]", f"duplicate preset {name!r}")
    return tuple(raw)


def _parse_knobs(raw: Any, base: Genome, fixed: dict) -> tuple[Knob, ...]:
    """The knobs in application order: width, depth, depths.N, then plain fields, inter last."""
    raw = mapping(raw, "knobs")
    if not raw:
        raise SpaceError("knobs", "give at least one knob (e.g. block: {choices: [dw, d2p1d]})")
    stages = base.num_stages
    allowed = sorted(FIELD_NAMES - set(_NOT_KNOBS)) + list(DERIVED_KNOBS) + [f"depths.N (N = 0..{stages - 1})"]
    knobs = []
    for name, spec in raw.items():
        key = f"knobs.{name}"
        if name in _NOT_KNOBS:
            raise SpaceError(key, f"not a knob: {_NOT_KNOBS[name]}")
        match = re.fullmatch(r"depths\.(\d+)", name)
        if match:
            if int(match.group(1)) >= stages:
                raise SpaceError(key, f"stage index out of range: the space has stages 0..{stages - 1}")
        elif name not in FIELD_NAMES and name not in DERIVED_KNOBS:
            raise SpaceError(key, f"unknown knob; allowed: {', '.join(allowed)}")
        if name in fixed:
            raise SpaceError(key, f"also pinned under fixed.{name}; remove one of the two")
        if name == "modules" and base.family != "vov3d":
            raise SpaceError(key, f"applies only to vov3d (an X3D block is one module); this space's family is {base.family}")
        knob = parse_knob(name, spec)
        if name in ("depths", "inner_widths", "out_widths") and knob.kind == "choice":
            for i, choice in enumerate(knob.choices):
                if isinstance(choice, tuple) and len(choice) != stages:
                    raise SpaceError(
                        f"{key}.choices[{i}]", f"has {len(choice)} stages; a space keeps its base's {stages} stages"
                    )
        knobs.append(knob)
    names = [k.name for k in knobs]
    if "depths" in names and any(_is_derived(n) and n != "width" for n in names):
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
def _widths(family: str, width: Any, stages: int) -> dict[str, Any]:
    """The width fields for a `width` knob value, made by the presets' own constructors."""
    if family == "vov3d":
        g = vov3d_genome(width, depths=(1,) * stages, modules=1)
    else:
        g = x3d_genome(1.0, frames=16, crop=224, width_factor=width)
    return dict(inner_widths=g.inner_widths, out_widths=g.out_widths, stem_width=g.stem_width, head_width=g.head_width)


@lru_cache(maxsize=1024)
def _scaled_depths(family: str, base_depths: tuple[int, ...], depth: Any) -> tuple[int, ...]:
    """Per-stage depths for a `depth` knob value (see the module docstring)."""
    if family == "x3d":
        return x3d_genome(depth, frames=16, crop=224).depths
    return tuple(max(1, _round_half_up(depth * d)) for d in base_depths)


def _round_half_up(x: float) -> int:
    # Python's round() rounds halves to even (round(2.5) == 2); a depth or frame count
    # of 2.5 should read as 3.
    return int(math.floor(x + 0.5))


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _probe_values(knob: Knob) -> tuple:
    """Up to 33 values spread over a knob, for the constraint check's descent."""
    if knob.discrete:
        values = knob.values()
        if len(values) <= 33:
            return values
        return tuple(values[round(i * (len(values) - 1) / 32)] for i in range(33))
    if knob.log:
        ratio = knob.high / knob.low
        return tuple(knob.low * ratio ** (i / 32) for i in range(33))
    return tuple(knob.low + (knob.high - knob.low) * i / 32 for i in range(33))


# ---------------------------------------------------------------------------- summary


def _covering_first(states: list[dict]) -> list[dict]:
    """Genome fields (one dict per derived state) reordered so that a few first ones hold every distinct stage.

    Within one assignment of the plain knobs, a genome needs a full count only if it
    brings a stage not seen yet; putting first a greedy cover of all (stage index,
    depth, widths) makes those counts as few as possible (e.g. 6 instead of 11 for
    per-stage depths of 2, 3, 6 and 3 values). Long lists keep their order.
    """
    if len(states) > 5000:
        return states
    tags = []
    for f in states:
        stem, head = f["stem_width"], f["head_width"]
        depths, inner, out = f["depths"], f["inner_widths"], f["out_widths"]
        prev = (stem,) + tuple(out[:-1])
        tags.append({(stem, head, i, depths[i], inner[i], out[i], prev[i]) for i in range(len(depths))})
    uncovered = set().union(*tags) if tags else set()
    first: list[int] = []
    while uncovered:
        best = max(range(len(states)), key=lambda i: len(tags[i] & uncovered))
        first.append(best)
        uncovered -= tags[best]
    chosen = set(first)
    return [states[i] for i in first] + [f for i, f in enumerate(states) if i not in chosen]


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% for z = 1.96); (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def format_summary(space: Space, summary: dict[str, Any]) -> str:
    """Human-readable lines for `archspace space show`: knobs, size, feasible, cost ranges."""
    t = space.target
    train = f", train crop {t.train_crop}" if t.train_crop not in (None, t.crop) else ""
    lines = [
        f"space {space.path}",
        f"  base     {space.base_name} ({space.base.family})" + (f", fixed {_plain_dict(space.fixed)}" if space.fixed else ""),
        f"  target   {t.frames} x {t.crop}^2{train}, {t.classes} classes, counter {t.counter}",
        "  knobs",
    ]
    width = max(len(k.name) for k in space.knobs)
    for knob in space.knobs:
        note = f"   (only with {', '.join(TWO_CONV_BLOCKS)})" if knob.name == "inter" else ""
        lines.append(f"    {knob.name:<{width}}  {knob.describe()}{note}")
    size = summary["size"]
    if size is None:
        lines.append("  size     continuous (a float knob without step)")
    else:
        what = "distinct genomes" if summary["size_exact"] else "knob assignments (duplicates not removed)"
        lines.append(f"  size     {size:,} {what}")
    lines.append(f"  constraints  {space.constraints.describe()}")
    if summary["exact"]:
        share = f" ({100 * summary['feasible'] / size:.1f}%)" if size else ""
        lines.append(f"  feasible {summary['feasible']:,}{share}, every genome counted")
    else:
        low, high = summary["feasible_fraction_low"], summary["feasible_fraction_high"]
        estimate = f"{summary['feasible']:,} " if summary.get("feasible") is not None else ""
        lines.append(
            f"  feasible ~{estimate}({100 * summary['feasible_fraction']:.1f}%, 95% interval "
            f"{100 * low:.1f}-{100 * high:.1f}%), estimated from {summary['sample']:,} sampled genomes"
        )
    scope = "" if summary["exact"] else " (in the sample)"
    lines.append(f"  GFLOPs   {summary['gflops_min']:.3f} - {summary['gflops_max']:.3f} at the target{scope}")
    lines.append(f"  params   {summary['params_m_min']:.3f} - {summary['params_m_max']:.3f} M{scope}")
    lines.append(f"  objectives  {', '.join(f'{n} {d}' for n, d in space.objectives.items())}")
    return "\n".join(lines)


def _plain_dict(values: dict) -> str:
    return ", ".join(f"{k}={label(v)}" for k, v in values.items())
