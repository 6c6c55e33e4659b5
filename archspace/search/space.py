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

Parts: knobs.py (one knob, the knobs section, derived knobs), settings.py (the other
sections and their defaults), schema.py (typed readers, SpaceError), stagecost.py (fast
costs of many genomes for summaries), summary.py (summary helpers and its text).
"""

from __future__ import annotations

import itertools
import math
import random
import time
from pathlib import Path
from typing import Any, Iterator, Optional

from archspace.cost import Cost, count
from archspace.errors import UserError
from archspace.io import read_user_text
from archspace.genome import FIELD_NAMES, PRESETS, TWO_CONV_BLOCKS, Genome
from archspace.search.knobs import (
    Knob,
    derived_widths,
    is_derived,
    label,
    parse_knobs,
    probe_values,
    round_half_up,
    scaled_depths,
)
from archspace.search.schema import SpaceError, no_unknown, read_yaml, show
from archspace.search.settings import (
    Constraints,
    ProxySettings,
    SearchSettings,
    Target,
    parse_base,
    parse_constraints,
    parse_fixed,
    parse_objectives,
    parse_proxy,
    parse_references,
    parse_search,
    parse_target,
)
from archspace.search.stagecost import StageCostMemo
from archspace.search.summary import covering_first, format_summary, wilson_interval

__all__ = ["Knob", "Space", "format_summary", "load_space", "wilson_interval"]

SECTIONS = ("base", "fixed", "knobs", "target", "constraints", "objectives", "proxy", "search", "references")
_DERIVED_FIELDS = ("depths", "inner_widths", "out_widths", "stem_width", "head_width")
# Enumerating the derived knobs' product (to drop duplicate genomes) is cheap arithmetic;
# beyond this many combinations, the size is given as a count of knob assignments instead.
_DERIVED_LIMIT = 100_000
# Genomes between two looks at the clock while a summary enumerates.
_WINDOW = 2048
# How many values of a discrete knob are built and counted when the space is loaded.
_CHECK_ALL_UP_TO = 256
# Spaces up to this size are checked genome by genome for a feasible one when loaded.
_CHECK_EVERY_UP_TO = 5000


def load_space(path: str | Path) -> "Space":
    """Read and check a space file.

    Returns the Space. Raises UserError (one line: the file, the key path, what is
    allowed) for an unreadable or malformed file and every bad item in it.
    """
    name = str(path)
    text = read_user_text(path, "space")
    try:
        raw = read_yaml(text)
    except SpaceError as exc:
        raise exc.in_file(name) from None
    return Space.from_dict(raw, path=name)


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
        self._derived = [k for k in knobs if is_derived(k.name)]
        self._plain = [k for k in knobs if not is_derived(k.name) and k.name != "inter"]
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
        """The Space for a parsed space file.

        Raises SpaceError (a UserError), one line: `path`, the bad key's path, what is allowed.
        """
        try:
            return cls._parse(raw, path)
        except SpaceError as exc:
            raise exc.in_file(path) from None

    @classmethod
    def _parse(cls, raw: Any, path: str) -> "Space":
        if not isinstance(raw, dict):
            sections = ", ".join(SECTIONS)
            raise SpaceError("", f"a space file must be a mapping of sections ({sections}); got {show(raw)}")
        no_unknown(raw, SECTIONS, "")
        base_name = parse_base(raw.get("base"))
        fixed = parse_fixed(raw.get("fixed"), base_name)
        base = PRESETS[base_name].replace(**fixed)
        target = parse_target(raw.get("target"), base)
        knobs = parse_knobs(raw.get("knobs"), base, fixed)
        proxy = parse_proxy(raw.get("proxy"))
        search = parse_search(raw.get("search"))
        if search.scheduler != "none" and search.grace_epochs > proxy.epochs:
            raise SpaceError(
                "search.grace_epochs", f"must be <= proxy.epochs ({proxy.epochs}); got {search.grace_epochs}"
            )
        if search.sampler == "grid":
            for knob in knobs:
                if not knob.discrete:
                    raise SpaceError(f"knobs.{knob.name}", "sampler grid needs a step or choices")
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
            references=parse_references(raw.get("references")),
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
            knob = self._known(name)
            try:
                out[name] = knob.decode(param)
            except KeyError:
                allowed = knob.describe()
                raise UserError(f"{self.path}: knob {name!r} has no value {param!r}: {allowed}") from None
        return out

    def encode(self, knobs: dict[str, Any]) -> dict[str, Any]:
        """Optuna params for knob values (labels for list choices), e.g. for
        `study.enqueue_trial(space.encode(knobs))`: a grid over `enumerate()`, where
        Optuna's GridSampler cannot leave out inter for one-conv blocks."""
        return {name: self._known(name).encode(value) for name, value in knobs.items()}

    def genome(self, knobs: dict[str, Any]) -> Genome:
        """The Genome for knob values (missing knobs keep the base's value), at the target input.

        Raises UserError for an unknown knob, a value outside the knob's values or a
        knob that does not apply to this genome (inter with a one-conv block), and
        GenomeError for a genome that cannot be built.
        """
        for name, value in knobs.items():
            knob = self._known(name)
            if not knob.contains(value):
                allowed = knob.describe()
                raise UserError(f"{self.path}: knob {name}: {show(value)} is not in the space ({allowed})")
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
        frames = max(1, round_half_up(self.proxy.frames * genome.frames / self.target.frames))
        crop = max(32, 4 * round_half_up(self.proxy.crop * genome.crop / self.target.crop / 4))
        return frames, crop

    def enumerate(self) -> Iterator[dict[str, Any]]:
        """Every knob assignment that gives a distinct genome, applicable knobs only.

        When different values give the same genome (depth multipliers that round alike,
        a stem_width knob overriding width's stem), the first assignment stands for them.
        Raises UserError if a knob is a float range without step.
        """
        for knob in self.knobs:
            if not knob.discrete:
                raise SpaceError(
                    f"knobs.{knob.name}", "a float range without step is not enumerable; give step or choices"
                ).in_file(self.path)
        derived = [assignment for assignment, _ in self._derived_states()]
        for plain, _ in self._plain_combos():
            for assignment in derived:
                yield {**assignment, **plain}

    def size(self) -> tuple[Optional[int], bool]:
        """(number of genomes, exact): exact distinct genomes when every knob is discrete.

        Counted without building genomes: distinct results of the derived knobs (width,
        depth, depths.N) times the assignments of the other knobs, which give distinct
        genomes. (None, False) for a space with a continuous knob; (assignments, False)
        when the derived knobs have more than 100,000 combinations to compare.
        """
        if not all(k.discrete for k in self.knobs):
            return None, False
        derived = math.prod(k.size for k in self._derived)
        plain = self._plain_count()
        if derived > _DERIVED_LIMIT:
            return derived * plain, False
        return len(self._derived_states()) * plain, True

    def random_knobs(self, rng: random.Random) -> dict[str, Any]:
        """Knob values of a genome drawn uniformly from the space's distinct genomes.

        Uniform over each knob's values instead where a knob is continuous (log-uniform
        if `log`) or the derived knobs have too many combinations to list.
        """
        values: dict[str, Any] = {}
        if self._derived_listed():
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

    def summary(self, time_limit_s: float = 60.0, sample: int = 20000, seed: int = 0) -> dict[str, Any]:
        """Size, feasible count and GFLOPs / params ranges of the space at the target.

        Returns a dict: size (int or None), size_exact, feasible, exact, gflops_min,
        gflops_max, params_m_min, params_m_max, seconds. exact=True: every distinct
        genome was counted. Otherwise (a continuous knob, enumeration projected past
        `time_limit_s`, or a limit <= 0) `sample` genomes drawn uniformly with `seed`
        were counted, and the dict adds sample, feasible_fraction with its 95% Wilson
        interval (feasible_fraction_low/high) and, when size is known, feasible_low/high
        (counts). GFLOPs and params are at the target input under the target counter.
        """
        if sample < 1:
            raise UserError(f"sample must be >= 1; got {sample}")
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

    def _known(self, name: str) -> Knob:
        if name not in self._knob:
            known = ", ".join(self._knob)
            raise UserError(f"{self.path}: unknown knob {name!r}; this space's knobs: {known}")
        return self._knob[name]

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
                fields[knob.name] = values[knob.name]
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
            depths = scaled_depths(self.base.family, depths, values["depth"])
        if "width" in values:
            out.update(derived_widths(self.base.family, values["width"], len(depths)))
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

    def _derived_listed(self) -> bool:
        """Whether the derived knobs' distinct results are listed (discrete, not too many)."""
        if not all(k.discrete for k in self._derived):
            return False
        return math.prod(k.size for k in self._derived) <= _DERIVED_LIMIT

    def _plain_count(self) -> int:
        others = math.prod(k.size for k in self._plain if k.name != "block")
        blocks = self._knob["block"].values() if "block" in self._knob else (self._start["block"],)
        n_inter = self._inter.size if self._inter is not None else 1
        return others * sum(n_inter if b in TWO_CONV_BLOCKS else 1 for b in blocks)

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
        derived = covering_first([{**self._start, **fields} for _, fields in self._derived_states()])
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
            gflops, params_m = self._fast_cost(self._fields(self.random_knobs(rng)))
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
        if size_exact and size <= _CHECK_EVERY_UP_TO:
            if any(violation(a) == 0 for a in self.enumerate()):
                return
            how = f"every one of the {size} genomes checked"
        else:
            rng = random.Random(0)
            samples = [self.random_knobs(rng) for _ in range(200)]
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
                    f"no genome of the space meets {name} {bound:g}: "
                    f"the {side} found is {seen:.4g} {unit} ({how})",
                )
        raise SpaceError("constraints", f"no genome of the space meets all of them together ({how})")

    def _descend(self, assignment: dict, score: float, violation) -> bool:
        """Greedy coordinate descent on `violation` from `assignment`; True once it reaches 0."""
        for _ in range(6):
            improved = False
            for knob in self.knobs:
                for value in probe_values(knob):
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


