"""An experiment file: a fixed list of genomes, trained with declared seeds and proxy
budgets (or, for `kind: module_cost`, the paper's per-module cost table).

    exp = load_experiment("experiments/table6.yaml")
    exp.genomes[0].genome, exp.proxies("quick")      # genomes at the target; proxy spaces

The file (unknown keys at any level are errors; paths are relative to the file):

    title: "Table 6: ..."               # what results.md is headed with
    space: ../search_spaces/table6.yaml # target (where cost is counted) and proxy (how genomes train)
    seeds: 3                            # seeds 0 .. N-1 (--seeds overrides)
    paper: {source: "...", views: 6}    # where the published figures come from
    budgets:                            # budget -> proxy name -> overrides of the space's proxy
      full: {default: {}, long: {epochs: 12}}
      quick: {default: {epochs: 1}, long: {epochs: 2}}   # optional: QUICK_PROXY by default
    genomes:
      - name: "(e) D(2+1)D"
        preset: vov3d_m_paper           # or knobs: {width: 40, ...} of the space
        set: [block=d2p1d]              # --set style overrides, after the target input
        paper: {params_m: 3.3, gflops: 5.7, top1: 48.1}
        baseline: "(c) dw"              # optional: results.md shows cost growth against it
    compare: [["(e) D(2+1)D", "(c) dw"]]   # pairs whose ordering results.md discusses
    fidelity: {reference: long, proxies: [default]}   # rank agreement of proxies (proxy_fidelity)

A genome is its preset at the target input (frames, crop, train crop, classes), then
`set`; with `knobs`, the space's genome for them. Each budget's proxies are the space's
proxy section with the overrides applied (`synth` merged key by key), checked as a
space file's proxy is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from archspace.errors import UserError
from archspace.genome import BLOCKS, PRESETS, Genome, apply_assignments
from archspace.io import read_user_text
from archspace.search.schema import SpaceError, integer, mapping, no_unknown, positive_number, read_yaml, show
from archspace.search.space import Space, load_space

KINDS = ("train", "module_cost")
BUDGETS = ("full", "quick")
SECTIONS = ("kind", "title", "space", "seeds", "paper", "budgets", "genomes", "compare", "fidelity", "modules")
# --budget quick, unless the file says otherwise: tiny synthetic data, one epoch, so that
# every shipped experiment runs end to end in a few minutes (tests run it).
QUICK_PROXY = {"epochs": 1, "frames": 2, "crop": 32, "batch_size": 16, "warmup_epochs": 0.0, "width": 0.25,
               "synth": {"videos_per_class": 3, "val_videos_per_class": 2, "frames": 8, "size": 32}}
PAPER_FIGURES = ("params_m", "gflops", "top1")


@dataclass(frozen=True)
class Entry:
    """One genome of an experiment: its name, the genome at the target input, the
    published figures (params_m, gflops, top1; absent where the paper has none)."""

    name: str
    genome: Genome
    paper: dict = field(default_factory=dict)
    baseline: Optional[str] = None
    preset: Optional[str] = None  # the preset it starts from (None: knobs of the space)


@dataclass(frozen=True)
class ModuleCase:
    """A Table 1 input: C x T x H x W, temporal kernel t, spatial stride s."""

    channels: int
    frames: int
    height: int
    width: int
    t: int = 3
    stride: int = 1


@dataclass
class Experiment:
    path: str
    name: str
    text: str  # the file as read: a resumed run must be the same experiment
    kind: str
    title: str
    paper: dict
    space: Optional[Space] = None
    seeds: int = 1
    budgets: dict = field(default_factory=dict)  # budget -> proxy name -> proxy section overrides
    genomes: tuple[Entry, ...] = ()
    compare: tuple[tuple[str, str], ...] = ()
    fidelity: Optional[dict] = None
    blocks: tuple[str, ...] = ()  # module_cost
    cases: tuple[ModuleCase, ...] = ()  # module_cost

    @property
    def counter(self) -> str:
        return self.space.target.counter if self.space else "paper"

    def proxies(self, budget: str) -> dict[str, Space]:
        """The budget's proxies by name, each as the space with its proxy section."""
        if budget not in BUDGETS:
            raise UserError(f"--budget must be one of {', '.join(BUDGETS)}; got {budget!r}")
        out = {}
        for name, overrides in self.budgets[budget].items():
            raw = dict(self.space.raw, proxy=merged_proxy(self.space.raw.get("proxy") or {}, overrides))
            out[name] = Space.from_dict(raw, path=f"{self.path}: budgets.{budget}.{name} over {self.space.path}")
        return out


def merged_proxy(base: dict, overrides: dict) -> dict:
    """The proxy section `base` with `overrides` applied; `synth` is merged key by key."""
    merged = {**base, **overrides}
    if "synth" in base and "synth" in overrides:
        merged["synth"] = {**(base["synth"] or {}), **(overrides["synth"] or {})}
    return merged


def load_experiment(path: str | Path) -> Experiment:
    """Read and check an experiment file. Raises UserError, one line naming the file,
    the key and what is allowed."""
    name = str(path)
    text = read_user_text(path, "experiment")
    try:
        return _parse(read_yaml(text), name, text)
    except SpaceError as exc:
        raise (exc if exc.file else exc.in_file(name)) from None


def _parse(raw: Any, path: str, text: str) -> Experiment:
    if not isinstance(raw, dict):
        raise SpaceError("", f"an experiment file must be a mapping of sections ({', '.join(SECTIONS)}); got {show(raw)}")
    no_unknown(raw, SECTIONS, "")
    kind = raw.get("kind", "train")
    if kind not in KINDS:
        raise SpaceError("kind", f"must be one of {', '.join(KINDS)}; got {show(kind)}")
    title = raw.get("title") or Path(path).stem
    if not isinstance(title, str):
        raise SpaceError("title", f"must be text; got {show(title)}")
    paper = mapping(raw.get("paper"), "paper")
    no_unknown(paper, ("source", "views", "metric"), "paper")
    exp = Experiment(path=path, name=Path(path).stem, text=text, kind=kind, title=title, paper=dict(paper))
    if kind == "module_cost":
        for key in ("space", "seeds", "budgets", "genomes", "compare", "fidelity"):
            if key in raw:
                raise SpaceError(key, "a module_cost experiment trains nothing: give modules only")
        exp.blocks, exp.cases = _modules(raw.get("modules"))
        return exp
    if "modules" in raw:
        raise SpaceError("modules", "only for kind: module_cost")
    exp.space = _space(raw.get("space"), path)
    exp.seeds = integer(raw.get("seeds", 1), "seeds", 1)
    exp.budgets = _budgets(raw.get("budgets"))
    exp.genomes = _genomes(raw.get("genomes"), exp.space)
    names = [e.name for e in exp.genomes]
    for i, e in enumerate(exp.genomes):
        if e.baseline is not None and e.baseline not in names:
            raise SpaceError(f"genomes[{i}].baseline", f"names no genome of the experiment: {show(e.baseline)}")
    exp.compare = _compare(raw.get("compare"), names)
    exp.fidelity = _fidelity(raw.get("fidelity"), exp.budgets["full"])
    for budget in BUDGETS:  # every proxy must be a valid proxy section: check now, not mid-run
        exp.proxies(budget)
    return exp


def _space(raw: Any, path: str) -> Space:
    if not isinstance(raw, str) or not raw:
        raise SpaceError("space", f"must name a space file (relative to the experiment file); got {show(raw)}")
    try:
        return load_space(Path(path).parent / raw)
    except UserError as exc:  # a bad or missing space file: say which experiment named it
        raise SpaceError("space", str(exc)) from None


def _budgets(raw: Any) -> dict:
    raw = mapping(raw, "budgets")
    no_unknown(raw, BUDGETS, "budgets")
    full = mapping(raw.get("full"), "budgets.full") or {"proxy": {}}
    budgets = {"full": {}}
    for name, overrides in full.items():
        budgets["full"][name] = dict(mapping(overrides, f"budgets.full.{name}"))
    if raw.get("quick") is None:
        budgets["quick"] = {name: {**o, **QUICK_PROXY} for name, o in budgets["full"].items()}
    else:
        quick = mapping(raw["quick"], "budgets.quick")
        if sorted(quick) != sorted(full):
            raise SpaceError("budgets.quick", f"must name the same proxies as budgets.full ({', '.join(full)}); "
                             f"got {', '.join(quick) or 'none'}")
        budgets["quick"] = {name: dict(mapping(o, f"budgets.quick.{name}")) for name, o in quick.items()}
    return budgets


def _list_items(raw: Any, key: str, what: str, allowed: tuple[str, ...]):
    """(key[i], item) of a non-empty list of mappings whose keys are all `allowed`."""
    if not isinstance(raw, list) or not raw:
        raise SpaceError(key, f"must be a list of {what}; got {show(raw)}")
    for i, item in enumerate(raw):
        item_key = f"{key}[{i}]"
        item = mapping(item, item_key)
        no_unknown(item, allowed, item_key)
        yield item_key, item


def _genomes(raw: Any, space: Space) -> tuple[Entry, ...]:
    entries = []
    for key, item in _list_items(raw, "genomes", "genomes (name, preset or knobs, set, paper)",
                                 ("name", "preset", "knobs", "set", "paper", "baseline")):
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise SpaceError(f"{key}.name", f"must be a name; got {show(name)}")
        if name in [e.name for e in entries]:
            raise SpaceError(f"{key}.name", f"duplicate name {name!r}")
        preset = None if "knobs" in item else item.get("preset", space.base_name)
        entries.append(Entry(name, _genome(item, key, space), _paper_figures(item.get("paper"), f"{key}.paper"),
                             item.get("baseline"), preset))
    return tuple(entries)


def _genome(item: dict, key: str, space: Space) -> Genome:
    if "knobs" in item and "preset" in item:
        raise SpaceError(key, "give preset (with set) or knobs of the space, not both")
    sets = item.get("set") or []
    if not isinstance(sets, list) or not all(isinstance(s, str) for s in sets):
        raise SpaceError(f"{key}.set", f"must be a list of KEY=VALUE texts, e.g. [block=dw]; got {show(sets)}")
    try:
        if "knobs" in item:
            genome = space.genome(mapping(item["knobs"], f"{key}.knobs"))
        else:
            name = item.get("preset", space.base_name)
            if name not in PRESETS:
                raise SpaceError(f"{key}.preset", f"unknown preset {show(name)}; choose from {', '.join(PRESETS)}")
            t = space.target
            genome = PRESETS[name].replace(frames=t.frames, crop=t.crop, train_crop=t.train_crop_for(t.crop),
                                           classes=t.classes)
        return apply_assignments(genome, sets)
    except SpaceError:
        raise
    except UserError as exc:
        raise SpaceError(key, str(exc)) from None


def _paper_figures(raw: Any, key: str) -> dict:
    raw = mapping(raw, key)
    no_unknown(raw, PAPER_FIGURES, key)
    return {name: float(positive_number(v, f"{key}.{name}")) for name, v in raw.items()}


def _compare(raw: Any, names: list[str]) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SpaceError("compare", f"must be a list of [genome, genome] pairs; got {show(raw)}")
    pairs = []
    for i, pair in enumerate(raw):
        if not (isinstance(pair, list) and len(pair) == 2 and all(p in names for p in pair) and pair[0] != pair[1]):
            raise SpaceError(f"compare[{i}]", f"must be two different genome names of the experiment; got {show(pair)}")
        pairs.append((pair[0], pair[1]))
    return tuple(pairs)


def _fidelity(raw: Any, full: dict) -> Optional[dict]:
    if raw is None:
        return None
    raw = mapping(raw, "fidelity")
    no_unknown(raw, ("reference", "proxies", "bootstrap"), "fidelity")
    reference, proxies = raw.get("reference"), raw.get("proxies")
    if reference not in full:
        raise SpaceError("fidelity.reference",
                         f"must name a proxy of budgets.full ({', '.join(full)}); got {show(reference)}")
    if not isinstance(proxies, list) or not proxies or any(p not in full or p == reference for p in proxies):
        raise SpaceError("fidelity.proxies",
                         f"must list proxies of budgets.full other than {reference}; got {show(proxies)}")
    return {"reference": reference, "proxies": list(proxies),
            "bootstrap": integer(raw.get("bootstrap", 2000), "fidelity.bootstrap", 10)}


def _modules(raw: Any) -> tuple[tuple[str, ...], tuple[ModuleCase, ...]]:
    raw = mapping(raw, "modules")
    no_unknown(raw, ("blocks", "inputs"), "modules")
    blocks = raw.get("blocks") or list(BLOCKS)
    if not isinstance(blocks, list) or any(b not in BLOCKS for b in blocks):
        raise SpaceError("modules.blocks", f"must list blocks of {', '.join(BLOCKS)}; got {show(blocks)}")
    cases = []
    for key, item in _list_items(raw.get("inputs"), "modules.inputs", "{C, T, H, W, t, s} inputs",
                                 ("C", "T", "H", "W", "t", "s")):
        for name in ("C", "T", "H", "W"):
            if name not in item:
                raise SpaceError(f"{key}.{name}", "missing")
        values = {name: integer(item.get(name, default), f"{key}.{name}", 1)
                  for name, default in (("C", 0), ("T", 0), ("H", 0), ("W", 0), ("t", 3), ("s", 1))}
        if values["H"] % values["s"] or values["W"] % values["s"]:
            raise SpaceError(key, f"H and W must be multiples of the stride s ({values['s']}), as Table 1 assumes")
        cases.append(ModuleCase(values["C"], values["T"], values["H"], values["W"], values["t"], values["s"]))
    return tuple(blocks), tuple(cases)
