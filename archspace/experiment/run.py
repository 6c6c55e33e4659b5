"""`archspace experiment`: train a fixed list of genomes, each with the declared seeds
and proxies, through the search's machinery, and write the paper-style results.

    from archspace.experiment.spec import load_experiment
    from archspace.experiment.run import ExperimentOptions, run_experiment
    result = run_experiment(load_experiment("experiments/table6.yaml"), ExperimentOptions(budget="quick"))
    result.results                  # one row per genome and proxy (results.csv)

What is shared with `archspace search`: the proxy of a space file (SearchPlan: data,
budget, the proxy input of each genome, the key of a training), the Ray runner and trial
function (search/tune.py, search/trial.py), the cache of finished trainings
(search/references.py) and the trials table (search/table.py). A (genome, proxy, seed)
training is never run twice: a resumed run keeps the rows it finished, a training any
earlier run or search finished with the same key comes from the cache, and two proxies
that coincide at a budget (the same key) share one training in a run.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from archspace.analysis.report import write_report
from archspace.cost import count
from archspace.errors import UserError
from archspace.experiment.spec import Experiment
from archspace.experiment.tables import EXTRA_COLUMNS, split_accuracy, write_results
from archspace.io import write_json_atomic, write_text_atomic
from archspace.search import table as T
from archspace.search.cluster import stop_recorded_ray
from archspace.search.plan import SearchOptions, SearchPlan
from archspace.search.references import cache_result, cached_result
from archspace.search.run import environment
from archspace.search.tune import queue_searcher, run_trials
from archspace.search.trial import RESULT_FIELDS, outcome

COPY = "experiment.yaml"  # the experiment as run: --resume must be given the same file


@dataclass
class ExperimentOptions:
    seeds: Optional[int] = None  # None: the file's
    budget: str = "full"
    resume: bool = False
    concurrency: int = 2
    address: Optional[str] = None
    out: Optional[str] = None  # default runs/NAME (runs/NAME-quick for the quick budget)
    device: str = "cpu"
    progress: bool = True


@dataclass
class ExperimentResult:
    out: Path
    trials: Any  # DataFrame: one row per training (trials.csv)
    results: Any  # DataFrame: one row per genome and proxy (results.csv)
    interrupted: bool = False


@dataclass(frozen=True)
class Pair:
    """One training: a genome of the experiment, a proxy of the budget, a seed."""

    index: int
    entry: Any  # spec.Entry
    proxy: str
    seed: int
    plan: SearchPlan
    config: dict  # TrialSpec config
    key: str


def run_folder(exp: Experiment, options: ExperimentOptions) -> Path:
    name = exp.name if options.budget == "full" else f"{exp.name}-{options.budget}"
    return Path(options.out or Path("runs") / name).resolve()


def run_experiment(exp: Experiment, options: ExperimentOptions = ExperimentOptions()) -> ExperimentResult:
    """Run (or resume) `exp`; returns its tables. Raises UserError for bad options or a
    run folder that holds another run (without resume) or nothing to resume."""
    out = run_folder(exp, options)
    _check(exp, out, options)
    if options.resume:
        stopped = stop_recorded_ray(out)
        if stopped:
            _say(f"stopped {stopped} Ray process(es) left behind by the interrupted run")
    if exp.kind == "module_cost":
        from archspace.experiment.table1 import write_module_cost

        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / COPY, exp.text)
        results = write_module_cost(exp, out)
        return ExperimentResult(out, None, results)

    seeds = options.seeds if options.seeds is not None else _seeds_as_run(out, options) or exp.seeds
    pairs = make_pairs(exp, options, out, seeds)  # resolves the proxy data: a bad one leaves no run behind
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / COPY, exp.text)
    write_text_atomic(out / "space.yaml", Path(exp.space.path).read_text())  # the report reads its objectives
    rows = _kept_rows(out, pairs) if options.resume else {}
    for pair in pairs:
        if pair.index not in rows and (cached := cached_result(pair.key)) and cached.get("per_class"):
            rows[pair.index] = make_row(exp, pair, "complete", cached, source="cache")
    todo = [p for p in pairs if p.index not in rows]
    to_train, twins = _share_trainings(todo)
    settings = _settings(exp, options, seeds, pairs)
    started, t0 = time.time(), time.monotonic()
    write_json_atomic(out / "experiment.json", {**settings, "status": "running", "started": started})
    by_index = {p.index: p for p in pairs}
    trained_now: list[int] = []  # pair indices trained by this run
    if options.progress:
        _say(f"experiment {exp.name} ({options.budget} budget): {len(pairs)} trainings "
             f"({len(exp.genomes)} genomes x {len(exp.budgets[options.budget])} proxies x {seeds} seeds), "
             f"{len(rows)} done or cached, {len(to_train)} to train"
             + (f" ({len(todo) - len(to_train)} more share their training)" if len(todo) > len(to_train) else "")
             + f", {options.concurrency} at a time -> {out}")

    def on_result(config: dict, result: Optional[dict], error: bool) -> None:
        pair = by_index[config["number"]]
        state, attrs = outcome(result, error, pair.plan.budget["epochs"])
        rows[pair.index] = row = make_row(exp, pair, state, attrs, source="trained")
        for twin in twins.get(pair.index, []):
            rows[twin.index] = make_row(exp, twin, state, attrs, source=f"shared with trial {pair.index}")
        trained_now.append(pair.index)
        cache_result(pair.key, row)
        _write_table(out, rows)
        if options.progress:
            accuracy = "-" if row["accuracy"] is None else f"{row['accuracy']:.3f}"
            _say(f"[{time.monotonic() - t0:.0f} s] {len(trained_now)}/{len(to_train)} trained: {pair.entry.name}, "
                 f"proxy {pair.proxy}, seed {pair.seed}: {state}, accuracy {accuracy}")

    _write_table(out, rows)
    interrupted = False
    if to_train:
        searcher = queue_searcher([p.config for p in to_train], on_result)
        interrupted = run_trials(out, options.address, searcher, options.concurrency,
                                 1.0 if options.device == "cuda" else 0.0)
    trials = _write_table(out, rows)
    summary = {**settings, "status": "interrupted" if interrupted else "finished", "started": started,
               "wall_s": time.monotonic() - t0,
               "train_s": float(sum(rows[i]["wall_s"] or 0 for i in trained_now)),
               "counts": {s: sum(r["state"] == s for r in rows.values()) for s in T.STATES}}
    write_json_atomic(out / "experiment.json", summary)
    results = write_results(exp, out, trials, options.budget, summary)
    if len(trials):
        write_report(out)
    return ExperimentResult(out, trials, results, interrupted)


def _share_trainings(todo: list[Pair]) -> tuple[list[Pair], dict[int, list[Pair]]]:
    """The pairs to train, one per key, and for each the later pairs with its key (two
    proxies that coincide at this budget: e.g. a quick budget that shrinks both alike),
    which take its result."""
    first: dict[str, Pair] = {}
    twins: dict[int, list[Pair]] = {}
    for pair in todo:
        if pair.key in first:
            twins.setdefault(first[pair.key].index, []).append(pair)
        else:
            first[pair.key] = pair
    return list(first.values()), twins


def _seeds_as_run(out: Path, options: ExperimentOptions) -> Optional[int]:
    """On --resume without --seeds: the seeds the run was started with (a run started with
    --seeds 3 goes on with 3, not the file's count)."""
    path = out / "experiment.json"
    return json.loads(path.read_text()).get("seeds") if options.resume and path.exists() else None


def make_pairs(exp: Experiment, options: ExperimentOptions, out: Path, seeds: int) -> list[Pair]:
    """Every (genome, proxy, seed) of the budget, in a fixed order (proxy, genome, seed)."""
    pairs = []
    for proxy, space in exp.proxies(options.budget).items():
        plan = SearchPlan(space, SearchOptions(concurrency=options.concurrency, device=options.device,
                                               progress=options.progress), out)
        plan.resolve_data(options.progress)
        for entry in exp.genomes:
            for seed in range(seeds):
                index = len(pairs)
                spec = plan.spec(entry.genome, seed=seed, number=index,
                                 label=f"{index:03d}-{_slug(entry.name)}-{proxy}-s{seed}")
                pairs.append(Pair(index, entry, proxy, seed, plan, spec.to_config(), plan.key(spec)))
    return pairs


def make_row(exp: Experiment, pair: Pair, state: str, attrs: dict, source: str) -> dict:
    """A trials-table row of one training: the trial's result, the exact cost at the
    target under the experiment's counter, and the experiment's own columns."""
    genome = pair.entry.genome
    config = pair.config
    per_class = attrs.get("per_class") or {}
    row = {
        "trial": pair.index, "state": state, "reference": False, "preset": None, "reused_from": None,
        "genome": json.dumps(genome.to_dict()), "proxy_frames": config["proxy_frames"],
        "proxy_crop": config["proxy_crop"], **pair.plan.cost_attrs(count(genome, exp.counter)),
        **{k: attrs.get(k) for k in RESULT_FIELDS},  # accuracy_by_epoch, per_class: as below
        "accuracy_by_epoch": attrs.get("accuracy_by_epoch", []),
        "name": pair.entry.name, "proxy": pair.proxy, "seed": pair.seed,
        "order_tempo_accuracy": split_accuracy(per_class, paired=True) if state == "complete" else None,
        "other_accuracy": split_accuracy(per_class, paired=False) if state == "complete" else None,
        "per_class": per_class, "source": source, "key": pair.key,
    }
    return row


def _write_table(out: Path, rows: dict):
    """trials.csv and trials.parquet: the search's table, one row per training, in pair order."""
    ordered = []
    for i in sorted(rows):
        r = dict(rows[i])
        r["accuracy_by_epoch"] = r["accuracy_by_epoch"] if isinstance(r["accuracy_by_epoch"], str) \
            else json.dumps(r["accuracy_by_epoch"])
        r["per_class"] = r["per_class"] if isinstance(r["per_class"], str) else json.dumps(r["per_class"])
        ordered.append(r)
    df = T.frame(ordered, EXTRA_COLUMNS)
    T.write_table(df, out)
    return df


def _kept_rows(out: Path, pairs: list[Pair]) -> dict:
    """The complete rows of the run being resumed, by pair index (matched by key)."""
    import pandas as pd

    path = out / "trials.csv"
    if not path.exists():
        return {}
    df = pd.read_csv(path, keep_default_na=True)
    indices: dict[str, list[int]] = {}  # pairs that share a training share its key
    for p in pairs:
        indices.setdefault(p.key, []).append(p.index)
    kept = {}
    for record in df.to_dict("records"):
        if record.get("state") == "complete" and record.get("key") in indices:
            record = {k: (None if isinstance(v, float) and v != v else v) for k, v in record.items()}
            same = indices[record["key"]]
            record["trial"] = record["trial"] if record["trial"] in same else same[0]
            record["per_class"] = json.loads(record["per_class"]) if record.get("per_class") else {}
            kept[record["trial"]] = record
    return kept


def _check(exp: Experiment, out: Path, options: ExperimentOptions) -> None:
    if options.concurrency < 1:
        raise UserError(f"--concurrency must be >= 1; got {options.concurrency}")
    if options.seeds is not None and options.seeds < 1:
        raise UserError(f"--seeds must be >= 1; got {options.seeds}")
    if options.device not in ("cpu", "cuda"):
        raise UserError(f"--device must be cpu or cuda; got {options.device!r}")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {str(out)!r} is a file; give a folder for the run")
    copy = out / COPY
    if options.resume:
        if not copy.exists():
            raise UserError(f"--resume: {str(out)!r} holds no experiment to resume")
        if copy.read_text() != exp.text:
            raise UserError(f"--resume: {exp.path} differs from the experiment the run in {out} started with "
                            f"({copy}); resume with that file or choose another --out")
    elif copy.exists():
        raise UserError(f"{str(out)!r} already holds a run of an experiment: pass --resume to continue it, "
                        "or choose another --out")


def _settings(exp: Experiment, options: ExperimentOptions, seeds: int, pairs: list[Pair]) -> dict:
    plans = {p.proxy: p.plan for p in pairs}
    first = next(iter(plans.values()), None)
    return {
        "name": exp.name, "experiment": exp.path, "title": exp.title, "space": str(exp.space.path),
        "budget": options.budget, "seeds": seeds, "concurrency": options.concurrency, "address": options.address,
        "device": options.device, "counter": exp.counter,
        "proxy_budget": first.budget if first else {},
        "proxies": {name: {**plan.budget, "frames": plan.space.proxy.frames, "crop": plan.space.proxy.crop,
                           "synth": plan.synth_options if plan.data_arg == "synth" else None}
                    for name, plan in plans.items()},
        "proxy_data": str(first.data) if first else None,
        "proxy_classes": first.proxy_classes if first else None,
        "trainings": len(pairs), **environment(),
    }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "genome"


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
