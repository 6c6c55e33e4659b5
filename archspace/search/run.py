"""`archspace search`: an Optuna study proposes genomes, Ray Tune trains them on the proxy.

    from archspace.search.space import load_space
    from archspace.search.run import SearchOptions, run_search
    result = run_search(load_space("search_spaces/vov3d.yaml"), SearchOptions(trials=8))
    result.table            # pandas DataFrame, also runs/vov3d/trials.csv and .parquet

Who does what:
- Optuna owns the proposals and is the source of truth: every proposal is a study trial
  in a real storage (SQLite in the run folder by default), told COMPLETE, PRUNED (ASHA
  stopped it: low-budget accuracies never reach the sampler or the front) or FAIL.
- The exact cost model screens each proposal before any training: constraint values go
  to the sampler with `trial.set_constraint`, and an infeasible genome is never trained.
- A genome already trained with the same proxy budget and seed is not trained again:
  its result is reused and the row says from which trial.
- Ray Tune runs the trainings (`archspace.search.trial.run_trial`), `concurrency` at once,
  with ASHA on accuracy per epoch; `address` joins an existing Ray cluster.
- Resume: the study is read back; trials left RUNNING by a kill are marked interrupted
  and their genomes queued again; Ray processes a killed search left behind are stopped
  by the ids recorded when it started them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from archspace.analysis.report import write_report
from archspace.errors import UserError
from archspace.io import write_json_atomic, write_text_atomic
from archspace.search import table as T
from archspace.search.cluster import stop_recorded_ray
from archspace.search.plan import SearchOptions, SearchPlan, parse_duration  # noqa: F401 - the public API
from archspace.search.references import cached_references
from archspace.search.searcher import make_scheduler, make_searcher
from archspace.search.tune import run_trials

STUDY_FILE = "study.db"


@dataclass
class SearchResult:
    out: Path
    table: Any  # pandas DataFrame
    interrupted: bool = False
    summary: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- settings


def run_folder(space, options: SearchOptions) -> tuple[str, Path]:
    name = options.name or Path(space.path).stem
    return name, Path(options.out or Path("runs") / name).resolve()


# What a resume takes from the interrupted search's search.json when the command line
# leaves it out (the space's own values are the defaults of a new search only).
RESUMED_OPTIONS = ("trials", "concurrency", "time_budget_s", "seed", "scheduler")


def options_as_run(options: SearchOptions, out: Path) -> SearchOptions:
    """On --resume, the options the search was run with, except where `options` says
    otherwise: a search started with --trials 40 goes on to 40 trials, not the space's
    count, and one started with --storage URL finds its study there again."""
    path = out / "search.json"
    if not path.exists():
        return options
    saved = json.loads(path.read_text())
    kept = {name: saved.get(name) for name in RESUMED_OPTIONS if getattr(options, name) is None}
    if options.storage is None and saved.get("storage") not in (None, f"sqlite:///{out / STUDY_FILE}"):
        kept["storage"] = saved["storage"]
    return dataclasses.replace(options, **{k: v for k, v in kept.items() if v is not None})


def open_study(url: Optional[str], out: Path, name: str, directions: list[str], sampler, resume: bool):
    """The study in its storage: SQLite in the run folder, any RDB URL, or an Optuna
    journal file (a path ending in .log or .jsonl)."""
    import optuna

    if url is None:
        url = f"sqlite:///{out / STUDY_FILE}"
    if storage_kind(url) == "rdb":
        storage = optuna.storages.RDBStorage(url)
    else:
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        storage = JournalStorage(JournalFileBackend(str(Path(url).resolve())))
    names = {s.study_name for s in optuna.study.get_all_study_summaries(storage)}
    if name in names and not resume:
        raise UserError(f"a study named {name!r} exists in {url}: pass --resume to continue it, or choose another --name")
    if name not in names and resume:
        raise UserError(f"--resume: no study named {name!r} in {url}; start the search without --resume")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(storage=storage, study_name=name, directions=directions, sampler=sampler,
                               load_if_exists=True)


def storage_kind(url: str) -> str:
    """'rdb' for a database URL, 'journal' for an Optuna journal file; UserError otherwise."""
    if "://" in url:
        return "rdb"
    if url.endswith((".log", ".jsonl")):
        return "journal"
    raise UserError(f"--storage {url!r}: give an RDB URL (sqlite:///file.db, postgresql://...) "
                    "or an Optuna journal file ending in .log or .jsonl")


def make_sampler(kind: str, seed: int, trials: int, done: int):
    """The space's sampler, seeded. On resume (`done` > 0) the seed moves on, so a
    restored sampler does not replay the proposals it made before the kill."""
    import optuna

    seed = seed + 7919 * done
    if kind == "nsga2":
        population = max(4, min(50, trials // 3))  # a few generations even in short searches
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=population)
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=min(10, max(2, trials // 3)))
    if kind in ("random", "grid"):  # grid: the driver walks the enumerated space in order
        return optuna.samplers.RandomSampler(seed=seed)
    raise UserError(f"unknown sampler {kind!r}; choose nsga2, tpe, random or grid")


# ----------------------------------------------------------------------------- the run


def run_search(space, options: SearchOptions = SearchOptions()) -> SearchResult:
    """Run (or resume) the search of `space`; returns the trials table and the run folder.

    Raises UserError for bad options, a run folder that holds another search (without
    resume) or a resume with nothing to resume.
    """
    name, out = run_folder(space, options)
    if options.resume:
        options = options_as_run(options, out)
    plan = SearchPlan(space, options, out)
    _check_options(plan, options)
    _check_folder(space, out, options)
    if options.resume:
        stopped = stop_recorded_ray(out)
        if stopped:
            _say(f"stopped {stopped} Ray process(es) left behind by the interrupted search")
    plan.resolve_data(options.progress)  # before anything is written: a bad --data leaves no run behind
    directions = ["maximize" if d == "max" else "minimize" for d in plan.objectives.values()]
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "space.yaml", Path(space.path).read_text())
    study = open_study(options.storage, out, name, directions, None, options.resume)
    done = reconcile(study, plan)
    study.sampler = make_sampler(plan.sampler, plan.seed, plan.trials, done)  # its seed depends on `done`
    ref_rows, missing = cached_references(plan, space.references)
    plan.reference_rows.update(ref_rows)
    started = time.time()
    settings = _settings(plan, options, name)
    write_json_atomic(out / "search.json", {**settings, "status": "running", "started": started})

    t0 = time.monotonic()

    def progress(searcher) -> None:
        df = write_outputs(plan, study, out)
        if options.progress:
            print(progress_line(plan, df, len(searcher.running), time.monotonic() - t0), file=sys.stderr, flush=True)

    if done >= plan.trials and not missing:
        # a resume of a finished search: nothing to train, so no searcher (it imports Ray Tune) and no Ray
        interrupted, infeasible = False, 0
        if options.progress:
            _say(f"search {name}: all {plan.trials} trials are done; give --trials N to search further")
    else:
        searcher = make_searcher(plan, study, missing, progress)
        if options.progress:
            _say(f"search {name}: {plan.trials} trials ({done} done), {plan.concurrency} at a time, "
                 f"{plan.sampler} sampler, scheduler {plan.scheduler}; proxy {plan.budget['epochs']} epochs "
                 f"at {space.proxy.frames} x {space.proxy.crop}^2 on {plan.data}; "
                 f"{len(missing)} reference(s) to train -> {out}")
        interrupted = run_trials(out, options.address, searcher, plan.concurrency, plan.gpus_per_trial,
                                 make_scheduler(plan))
        infeasible = searcher.infeasible
    if interrupted:
        reconcile(study, plan)
    df = write_outputs(plan, study, out)
    wall = time.monotonic() - t0
    fresh = df[(df["reused_from"].isna()) & ~(df["reference"] & df["preset"].isin(list(ref_rows)))]
    train_s = float(fresh["wall_s"].fillna(0).sum())
    summary = {**settings, "status": "interrupted" if interrupted else "finished", "started": started,
               "wall_s": wall, "train_s": train_s, "infeasible_proposals": infeasible,
               "outside_training_share": max(0.0, 1 - train_s / (wall * plan.concurrency)) if wall > 0 else None,
               "counts": {s: int((df.loc[~df["reference"], "state"] == s).sum()) for s in T.STATES}}
    write_json_atomic(out / "search.json", summary)
    if len(df):  # runs/NAME/report.html, what `archspace plot` writes
        write_report(out)
    return SearchResult(out, df, interrupted, summary)


def reconcile(study, plan: SearchPlan) -> int:
    """Make the study consistent after a kill or Ctrl-C: trials left RUNNING are marked
    interrupted (FAIL) and their genomes queued again. Returns the trials already done."""
    from optuna.trial import TrialState

    storage = study._storage  # noqa: SLF001 - Optuna's public API has no "fail a stale trial"
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        storage.set_trial_user_attr(t._trial_id, "interrupted", True)  # noqa: SLF001
        storage.set_trial_state_values(t._trial_id, TrialState.FAIL)  # noqa: SLF001
        if t.params and plan.sampler != "grid":
            study.enqueue_trial(t.params, skip_if_exists=False)
    return sum(map(T.is_search_trial, study.get_trials(deepcopy=False)))


def write_outputs(plan: SearchPlan, study, out: Path):
    rows = T.trial_rows(study.get_trials(deepcopy=False), plan.knob_names)
    rows += [T.reference_row(name, row, plan.knob_names) for name, row in plan.reference_rows.items()]
    df = T.frame(rows, plan.knob_names)
    T.write_table(df, out)
    return df


def progress_line(plan: SearchPlan, df, running: int, elapsed: float) -> str:
    """One line: trials done / running / pruned / failed, best accuracy, front size, time."""
    trials = df[~df["reference"]]
    counts = {s: int((trials["state"] == s).sum()) for s in T.STATES}
    finished = sum(counts.values())
    best = trials.loc[trials["state"] == "complete", "accuracy"].max()
    front = len(T.searched_front(df, plan.objectives))
    eta = ""
    left = max(0, plan.trials - finished)
    if finished and left:
        seconds = elapsed / finished * left
        walls = trials.loc[trials["reused_from"].isna(), "wall_s"].dropna()
        if plan.time_budget_s is not None and walls.any():  # launching stops at the budget; running trials finish
            seconds = min(seconds, max(0.0, plan.time_budget_s - elapsed) + walls.max())
        eta = f", ETA {_clock(seconds)}"
    best_text = f"{best:.3f}" if best == best else "-"  # NaN: nothing complete yet
    return (f"[{_clock(elapsed)}{eta}] trials {finished}/{plan.trials}: {counts['complete']} complete, "
            f"{counts['pruned']} pruned, {counts['failed']} failed, {running} running | best accuracy {best_text} | "
            f"front {front} | references {len(plan.reference_rows)}/{len(plan.space.references)}")


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s"


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _check_options(plan: SearchPlan, options: SearchOptions) -> None:
    if plan.trials < 1:
        raise UserError(f"--trials must be >= 1; got {plan.trials}")
    if plan.concurrency < 1:
        raise UserError(f"--concurrency must be >= 1; got {plan.concurrency}")
    if plan.time_budget_s is not None and plan.time_budget_s <= 0:
        raise UserError(f"--time-budget must be positive; got {plan.time_budget_s}")
    if options.gpus_per_trial < 0:
        raise UserError(f"--gpus-per-trial must be >= 0; got {options.gpus_per_trial}")
    if options.storage is not None:
        storage_kind(options.storage)
    if plan.scheduler not in ("asha", "none"):
        raise UserError(f"--scheduler must be asha or none; got {plan.scheduler!r}")
    if options.device not in ("cpu", "cuda"):
        raise UserError(f"--device must be cpu or cuda; got {options.device!r}")
    if options.device == "cuda" and options.gpus_per_trial <= 0:
        raise UserError("--device cuda needs --gpus-per-trial > 0 (e.g. 0.5 to share one GPU between two trials)")


def _check_folder(space, out: Path, options: SearchOptions) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {str(out)!r} is a file; give a folder for the run")
    copy = out / "space.yaml"
    if options.resume:
        if not copy.exists():
            raise UserError(f"--resume: {str(out)!r} holds no search to resume")
        if copy.read_text() != Path(space.path).read_text():
            raise UserError(f"--resume: {space.path} differs from the space the search in {out} started with "
                            f"({copy}); resume with that file or start a new --name")
    elif copy.exists():
        raise UserError(f"{str(out)!r} already holds a search: pass --resume to continue it, or choose another --name/--out")


def environment() -> dict:
    """Versions and machine, as search.json (and experiment.json) record them. Versions
    come from package metadata: the driver never imports torch (3 s)."""
    from archspace.version import __version__

    return {
        "versions": {"archspace": __version__, **{name: _installed_version(name) for name in ("torch", "ray", "optuna")},
                     "python": platform.python_version()},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "host": platform.node()},
    }


def _installed_version(name: str) -> Optional[str]:
    """The installed distribution's version; None where the package is importable without
    one (a source folder on PYTHONPATH)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _settings(plan: SearchPlan, options: SearchOptions, name: str) -> dict:
    return {
        "name": name, "space": str(plan.space.path), "trials": plan.trials, "concurrency": plan.concurrency,
        "seed": plan.seed, "sampler": plan.sampler, "scheduler": plan.scheduler,
        "time_budget_s": plan.time_budget_s, "objectives": plan.objectives, "proxy_budget": plan.budget,
        "proxy_data": str(plan.data), "proxy_classes": plan.proxy_classes, "address": options.address,
        "storage": options.storage or f"sqlite:///{plan.out / STUDY_FILE}", "device": plan.device,
        "gpus_per_trial": plan.gpus_per_trial, **environment(),
    }
