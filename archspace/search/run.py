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

import hashlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from archspace.errors import UserError
from archspace.genome import Genome, preset
from archspace.io import write_json_atomic, write_text_atomic
from archspace.search import table as T
from archspace.search.data import cache_root, proxy_cache_dir, resolve_proxy_data
from archspace.search.trial import TrialSpec

STUDY_FILE = "study.db"
RAY_PROCESSES = "ray-processes.json"


@dataclass
class SearchOptions:
    """Command-line overrides of the space's `search` settings (None keeps the space's)."""

    name: Optional[str] = None
    out: Optional[str] = None
    trials: Optional[int] = None
    concurrency: Optional[int] = None
    time_budget_s: Optional[float] = None
    seed: Optional[int] = None
    data: Optional[str] = None
    address: Optional[str] = None
    storage: Optional[str] = None
    scheduler: Optional[str] = None  # asha or none
    resume: bool = False
    device: str = "cpu"
    gpus_per_trial: float = 0.0
    progress: bool = True


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


def parse_duration(text: str) -> float:
    """'15m', '90s', '1h', '1h30m' or plain seconds -> seconds."""
    import re

    text = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise UserError(f"time budget {text!r}: give a duration such as 15m, 90s, 1h30m or seconds")
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


def genome_key(genome: Genome, spec_budget: dict, seed: int, data: str) -> str:
    """Identity of a training: the same genome, proxy budget, seed and data train alike."""
    blob = json.dumps([genome.to_dict(), spec_budget, seed, data], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- the searcher


class _Plan:
    """Everything the searcher needs about the run, resolved once."""

    def __init__(self, space, options: SearchOptions, out: Path):
        s = space.search
        self.space = space
        self.out = out
        self.seed = options.seed if options.seed is not None else s.seed
        self.trials = options.trials if options.trials is not None else s.trials
        self.concurrency = options.concurrency if options.concurrency is not None else s.concurrency
        budget = options.time_budget_s if options.time_budget_s is not None else s.time_budget
        self.time_budget_s = parse_duration(budget) if isinstance(budget, str) else budget
        self.sampler = s.sampler
        self.scheduler = options.scheduler or s.scheduler
        self.device = options.device
        self.gpus_per_trial = options.gpus_per_trial
        p = space.proxy
        self.data_arg = options.data or p.data
        self.budget = {"epochs": p.epochs, "fraction": p.fraction, "batch_size": p.batch_size, "base_lr": p.lr}
        if getattr(p, "classes", None):
            self.budget["classes"] = list(p.classes)
        self.synth_options = dict(getattr(p, "synth", {}) or {})
        self.objectives = dict(space.objectives)
        self.knob_names = [k.name for k in space.knobs]
        self.data: Optional[Path] = None
        self.cache_dir: Optional[Path] = None
        self.proxy_classes: Optional[int] = None

    def resolve_data(self, progress: bool) -> None:
        self.data = resolve_proxy_data(self.data_arg, self.synth_options, progress=progress)
        self.cache_dir = proxy_cache_dir(self.data)
        from archspace.data.layouts import read_layout

        classes = read_layout(self.data).classes
        self.proxy_classes = len(self.budget.get("classes") or classes)

    def spec(self, genome: Genome, **extra) -> TrialSpec:
        frames, crop = self.space.proxy_input(genome)
        latency = str(cache_root() / "latency") if "latency_ms" in self.objectives else None
        return TrialSpec(genome=genome.to_dict(), proxy_frames=frames, proxy_crop=crop, budget=self.budget,
                         data=str(self.data), cache_dir=str(self.cache_dir), seed=self.seed, device=self.device,
                         latency_cache=latency, **extra)

    def key(self, spec: TrialSpec) -> str:
        budget = dict(spec.budget, frames=spec.proxy_frames, crop=spec.proxy_crop)
        return genome_key(Genome.from_dict(spec.genome), budget, spec.seed, spec.data)

    def cost_attrs(self, genome: Genome) -> dict:
        cost = self.space.cost(genome)
        return {"params": cost.params, "flops": cost.flops, "acts": cost.acts, "gflops": cost.flops / 1e9,
                "params_m": cost.params / 1e6, "proxy_classes": self.proxy_classes}

    def objective_values(self, attrs: dict) -> list[float]:
        values = []
        for name, direction in self.objectives.items():
            v = attrs.get(name)
            values.append(float(v) if v is not None else (0.0 if direction == "max" else float("inf")))
        return values

    def reference_genome(self, name: str) -> Genome:
        t = self.space.target
        return preset(name).replace(classes=t.classes)


def _make_searcher(plan: _Plan, study, pending_refs: list[str], progress):
    """A Ray Tune Searcher over the study (defined here so Ray is imported only when a
    search runs)."""
    from optuna.trial import TrialState
    from ray.tune.search import Searcher

    class StudySearcher(Searcher):
        def __init__(self):
            super().__init__(metric="accuracy", mode="max")
            self.started = time.monotonic()
            self.running: dict[str, tuple] = {}  # ray trial id -> (kind, optuna trial or preset, key)
            self.running_keys: dict[str, Any] = {}  # genome key -> the optuna trial training it
            self.waiting: dict[str, list] = {}  # genome key -> duplicates waiting for its result
            self.finished: dict[str, tuple] = {}  # genome key -> (state, attrs, number)
            self.refs = list(pending_refs)
            self.infeasible = 0
            self.grid = None
            for t in study.get_trials(deepcopy=False):
                a = t.user_attrs
                if t.state in (TrialState.COMPLETE, TrialState.PRUNED) and "genome_key" in a and not a.get(
                        "infeasible") and a.get("reused_from") is None:
                    self.finished[a["genome_key"]] = (t.state, dict(a), t.number)
                self.infeasible += bool(a.get("infeasible"))
            if plan.sampler == "grid":
                seen = {t.user_attrs.get("genome_key") for t in study.get_trials(deepcopy=False)
                        if not t.user_attrs.get("interrupted")}
                self.grid = [k for k in plan.space.enumerate() if plan.key(plan.spec(plan.space.genome(k))) not in seen]

        # -- bookkeeping
        def counted(self) -> int:
            return sum(1 for t in study.get_trials(deepcopy=False)
                       if not t.user_attrs.get("infeasible") and not t.user_attrs.get("interrupted")
                       and (t.state != TrialState.FAIL or "genome_key" in t.user_attrs))

        def out_of_time(self) -> bool:
            return plan.time_budget_s is not None and time.monotonic() - self.started > plan.time_budget_s

        # -- Ray Tune's calls
        def suggest(self, trial_id: str):
            if self.refs:
                name = self.refs.pop(0)
                spec = plan.spec(plan.reference_genome(name), kind="reference", preset=name)
                self.running[trial_id] = ("reference", name, plan.key(spec))
                return spec.to_config()
            for _ in range(100_000):  # proposals that fail the constraints cost microseconds
                if self.counted() >= plan.trials or self.out_of_time() or self.grid == []:
                    return Searcher.FINISHED
                proposal = self._propose()
                if proposal is not None:
                    trial, spec, key = proposal
                    self.running[trial_id] = ("trial", trial, key)
                    self.running_keys[key] = trial
                    return spec.to_config()
            raise UserError("the sampler proposed 100,000 genomes in a row that fail the constraints; widen them")

        def _propose(self):
            """Ask the study for one genome: None when it was settled without training
            (infeasible, or a duplicate whose result is reused or awaited)."""
            trial = study.ask()
            if self.grid is not None:
                knobs = self.grid.pop(0)
            else:
                knobs = plan.space.suggest(trial)
            try:
                genome = plan.space.genome(knobs)
            except UserError as exc:
                trial.set_user_attr("error", str(exc))
                study.tell(trial, state=TrialState.FAIL)
                return None
            attrs = plan.cost_attrs(genome)
            spec = plan.spec(genome, number=trial.number)
            key = plan.key(spec)
            cost = plan.space.cost(genome)
            for (label, value) in zip(plan.space.constraints.declared(), plan.space.constraint_values(cost)):
                trial.set_constraint(label, value)
            attrs.update(genome=json.dumps(genome.to_dict()), genome_key=key, knobs=json.dumps(knobs),
                         proxy_frames=spec.proxy_frames, proxy_crop=spec.proxy_crop)
            for k, v in attrs.items():
                trial.set_user_attr(k, v)
            if not plan.space.feasible(cost):
                trial.set_user_attr("infeasible", True)
                study.tell(trial, plan.objective_values(dict(attrs, accuracy=0.0)))
                self.infeasible += 1
                return None
            if key in self.finished:
                state, result, number = self.finished[key]
                self._settle(trial, state, result, reused_from=number)
                return None
            if key in self.running_keys:
                self.waiting.setdefault(key, []).append(trial)
                return None
            return trial, spec, key

        def on_trial_complete(self, trial_id: str, result: Optional[dict] = None, error: bool = False):
            kind, who, key = self.running.pop(trial_id)
            result = dict(result or {})
            if error:
                result.update(failed=True, error=result.get("error") or "the trial's process died (see Ray's log)")
            epochs_done = int(result.get("epoch") or 0)
            if result.get("failed"):
                state = TrialState.FAIL
            elif epochs_done < plan.budget["epochs"]:
                state = TrialState.PRUNED
            else:
                state = TrialState.COMPLETE
            attrs = {"accuracy": result.get("accuracy"), "accuracy_by_epoch": result.get("accuracy_by_epoch", []),
                     "epochs": epochs_done, "wall_s": result.get("wall_s"), "node": result.get("node"),
                     "error": result.get("error") or None, "latency_ms": result.get("latency_ms")}
            if kind == "reference":
                save_reference(plan, who, key, state, attrs)
            else:
                self.running_keys.pop(key, None)
                self._settle(who, state, attrs)
                if state != TrialState.FAIL:
                    self.finished[key] = (state, attrs, who.number)
                for dup in self.waiting.pop(key, []):
                    self._settle(dup, state, attrs, reused_from=who.number)
            progress(self)

        def _settle(self, trial, state, attrs: dict, reused_from: Optional[int] = None) -> None:
            keep = {k: v for k, v in attrs.items() if k in ("accuracy", "accuracy_by_epoch", "epochs", "wall_s",
                                                               "node", "error", "latency_ms")}
            if reused_from is not None:
                keep.update(reused_from=reused_from, wall_s=0.0)
            for k, v in keep.items():
                trial.set_user_attr(k, v)
            if state == TrialState.COMPLETE:
                study.tell(trial, plan.objective_values({**trial.user_attrs, **keep}))
            else:
                study.tell(trial, state=state)

    return StudySearcher()


def _make_scheduler(plan: _Plan):
    if plan.scheduler == "none":
        return None
    from ray.tune.schedulers import ASHAScheduler

    class SearchASHA(ASHAScheduler):
        """ASHA that never stops a reference preset: references are trained to the full
        budget so that they sit on the front's axes."""

        def on_trial_result(self, tune_controller, trial, result):
            decision = super().on_trial_result(tune_controller, trial, result)
            return self.CONTINUE if trial.config.get("kind") == "reference" else decision

    s = plan.space.search
    return SearchASHA(time_attr="epoch", metric="accuracy", mode="max", max_t=plan.budget["epochs"],
                      grace_period=min(s.grace_epochs, plan.budget["epochs"]), reduction_factor=s.reduction_factor)


# ----------------------------------------------------------------------------- references


def reference_file(key: str) -> Path:
    return cache_root() / "references" / f"{key}.json"


def save_reference(plan: _Plan, name: str, key: str, state, attrs: dict) -> None:
    """A reference preset's result, cached per (preset, proxy settings, seed) for later runs
    (failed ones are not cached, so a later run tries again)."""
    from optuna.trial import TrialState

    genome = plan.reference_genome(name)
    spec = plan.spec(genome)
    row = dict(attrs, **plan.cost_attrs(genome), preset=name, genome=json.dumps(genome.to_dict()),
               proxy_frames=spec.proxy_frames, proxy_crop=spec.proxy_crop,
               state={TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned"}.get(state, "failed"))
    plan.reference_rows[name] = row
    if row["state"] == "complete":
        write_json_atomic(reference_file(key), row)


def cached_references(plan: _Plan, names) -> tuple[dict, list[str]]:
    """(rows found in the cache by preset, presets still to train)."""
    rows, missing = {}, []
    for name in names:
        spec = plan.spec(plan.reference_genome(name))
        path = reference_file(plan.key(spec))
        if path.exists():
            rows[name] = dict(json.loads(path.read_text()), reused=True)
        else:
            missing.append(name)
    return rows, missing


# ----------------------------------------------------------------------------- Ray processes


def start_ray(plan: _Plan, address: Optional[str]) -> bool:
    """Start a local Ray (recording its process ids in the run folder), or join a
    cluster. Returns True when this search started Ray itself."""
    import ray

    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the legacy reporter is silent at verbose=0
    # Ctrl-C raises KeyboardInterrupt here rather than Ray Tune's "resume with
    # Tuner.restore" path: the study, not Ray's experiment state, is what a resume reads.
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    if address:
        ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        return False
    cpus = os.cpu_count() or 1
    ray.init(num_cpus=cpus, num_gpus=None, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    record_ray_processes(plan.out)
    return True


def record_ray_processes(out: Path) -> None:
    import psutil

    me = psutil.Process()
    procs = [{"pid": p.pid, "create_time": p.create_time()} for p in me.children(recursive=True)]
    write_json_atomic(out / RAY_PROCESSES, {"driver": os.getpid(), "processes": procs})


def stop_recorded_ray(out: Path) -> int:
    """Stop the Ray processes a search in `out` started (and their children) if they
    still run: after kill -9 of a search, Ray's helpers outlive it. Returns how many."""
    import psutil

    path = out / RAY_PROCESSES
    if not path.exists():
        return 0
    record = json.loads(path.read_text())
    victims = []
    for entry in record["processes"]:
        try:
            p = psutil.Process(entry["pid"])
            if abs(p.create_time() - entry["create_time"]) > 0.01:
                continue  # the id was reused by an unrelated process
            victims.extend([p, *p.children(recursive=True)])
        except psutil.NoSuchProcess:
            continue
    for p in victims:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(victims, timeout=5)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)
    path.unlink(missing_ok=True)
    return len(victims)


# ----------------------------------------------------------------------------- the run


def run_search(space, options: SearchOptions = SearchOptions()) -> SearchResult:
    """Run (or resume) the search of `space`; returns the trials table and the run folder.

    Raises UserError for bad options, a run folder that holds another search (without
    resume) or a resume with nothing to resume.
    """
    name, out = run_folder(space, options)
    plan = _Plan(space, options, out)
    plan.reference_rows = {}
    _check_options(plan, options)
    _check_folder(space, out, options)
    if options.resume:
        stopped = stop_recorded_ray(out)
        if stopped:
            _say(options, f"stopped {stopped} Ray process(es) left behind by the interrupted search")
    plan.resolve_data(options.progress)  # before anything is written: a bad --data leaves no run behind
    directions = ["maximize" if d == "max" else "minimize" for d in plan.objectives.values()]
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "space.yaml", Path(space.path).read_text())
    import optuna  # noqa: F401 - fail before Ray starts if the environment is broken

    probe = open_study(options.storage, out, name, directions, None, options.resume)
    done = reconcile(probe, plan)
    study = open_study(options.storage, out, name, directions, make_sampler(plan.sampler, plan.seed, plan.trials, done),
                       resume=True)
    ref_rows, missing = cached_references(plan, space.references)
    plan.reference_rows.update(ref_rows)
    started = time.time()
    settings = _settings(plan, options, name)
    write_json_atomic(out / "search.json", {**settings, "status": "running", "started": started})

    stats = {"events": 0}
    t0 = time.monotonic()

    def progress(searcher) -> None:
        write_outputs(plan, study, out)
        stats["events"] += 1
        if options.progress:
            print(progress_line(plan, study, searcher, time.monotonic() - t0), file=sys.stderr, flush=True)

    searcher = _make_searcher(plan, study, missing, progress)
    if options.progress:
        _say(options, f"search {name}: {plan.trials} trials ({done} done), {plan.concurrency} at a time, "
                      f"{plan.sampler} sampler, scheduler {plan.scheduler}; proxy {plan.budget['epochs']} epochs "
                      f"at {space.proxy.frames} x {space.proxy.crop}^2 on {plan.data}; "
                      f"{len(missing)} reference(s) to train -> {out}")
    interrupted = False
    own_ray = start_ray(plan, options.address)
    try:
        _fit(plan, searcher)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        import ray

        ray.shutdown()
        if own_ray:
            stop_recorded_ray(out)
    if interrupted:
        reconcile(study, plan)
    df = write_outputs(plan, study, out)
    wall = time.monotonic() - t0
    fresh = df[(df["reused_from"].isna()) & ~(df["reference"] & df["preset"].isin(list(ref_rows)))]
    train_s = float(fresh["wall_s"].fillna(0).sum())
    summary = {**settings, "status": "interrupted" if interrupted else "finished", "started": started,
               "wall_s": wall, "train_s": train_s, "infeasible_proposals": searcher.infeasible,
               "outside_training_share": max(0.0, 1 - train_s / (wall * plan.concurrency)) if wall > 0 else None,
               "counts": {s: int((df.loc[~df["reference"], "state"] == s).sum()) for s in T.STATES}}
    write_json_atomic(out / "search.json", summary)
    return SearchResult(out, df, interrupted, summary)


def _fit(plan: _Plan, searcher) -> None:
    """Run the trials with Ray Tune until the searcher says FINISHED (Ctrl-C raises
    KeyboardInterrupt out of it)."""
    from ray import tune

    from archspace.search.trial import run_trial

    resources = {"cpu": 1, "gpu": plan.gpus_per_trial}
    attempt = len(list((plan.out / "ray").glob("tune-*"))) if (plan.out / "ray").exists() else 0
    tuner = tune.Tuner(
        tune.with_resources(run_trial, resources),
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=_make_scheduler(plan), num_samples=-1,
                                    max_concurrent_trials=plan.concurrency, reuse_actors=False),
        run_config=tune.RunConfig(name=f"tune-{attempt}", storage_path=str(plan.out / "ray"), verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=0),
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=None)),
    )
    tuner.fit()


def reconcile(study, plan: _Plan) -> int:
    """Make the study consistent after a kill or Ctrl-C: trials left RUNNING are marked
    interrupted (FAIL) and their genomes queued again. Returns the trials already done."""
    from optuna.trial import TrialState

    storage = study._storage  # noqa: SLF001 - Optuna's public API has no "fail a stale trial"
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        storage.set_trial_user_attr(t._trial_id, "interrupted", True)  # noqa: SLF001
        storage.set_trial_state_values(t._trial_id, TrialState.FAIL)  # noqa: SLF001
        if t.params and plan.sampler != "grid":
            study.enqueue_trial(t.params, skip_if_exists=False)
    return sum(1 for t in study.get_trials(deepcopy=False)
               if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
               and not t.user_attrs.get("infeasible") and not t.user_attrs.get("interrupted"))


def write_outputs(plan: _Plan, study, out: Path):
    rows = T.trial_rows(study.get_trials(deepcopy=False), plan.knob_names)
    rows += [T.reference_row(name, row, plan.knob_names) for name, row in plan.reference_rows.items()]
    df = T.frame(rows, plan.knob_names)
    T.write_table(df, out)
    return df


def progress_line(plan: _Plan, study, searcher, elapsed: float) -> str:
    from optuna.trial import TrialState

    rows = T.trial_rows(study.get_trials(deepcopy=False), plan.knob_names)
    counts = {s: sum(r["state"] == s for r in rows) for s in T.STATES}
    running = len(searcher.running)
    finished = sum(counts.values())
    complete = [r for r in rows if r["state"] == "complete" and r["accuracy"] is not None]
    best = max((r["accuracy"] for r in complete), default=None)
    front = len([t for t in study.best_trials if t.state == TrialState.COMPLETE and not t.user_attrs.get("infeasible")])
    eta = ""
    if finished:
        left = max(0, plan.trials - finished)
        eta = f", ETA {_clock(elapsed / finished * left)}" if left else ""
    best_text = f"{best:.3f}" if best is not None else "-"
    return (f"[{_clock(elapsed)}{eta}] trials {finished}/{plan.trials}: {counts['complete']} complete, "
            f"{counts['pruned']} pruned, {counts['failed']} failed, {running} running | best accuracy {best_text} | "
            f"front {front} | references {len(plan.reference_rows)}/{len(plan.space.references)}")


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s"


def _say(options: SearchOptions, text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _check_options(plan: _Plan, options: SearchOptions) -> None:
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


def _settings(plan: _Plan, options: SearchOptions, name: str) -> dict:
    import optuna
    import ray
    import torch

    from archspace import __version__

    return {
        "name": name, "space": str(plan.space.path), "trials": plan.trials, "concurrency": plan.concurrency,
        "seed": plan.seed, "sampler": plan.sampler, "scheduler": plan.scheduler,
        "time_budget_s": plan.time_budget_s, "objectives": plan.objectives, "proxy_budget": plan.budget,
        "proxy_data": str(plan.data), "proxy_classes": plan.proxy_classes, "address": options.address,
        "storage": options.storage or f"sqlite:///{plan.out / STUDY_FILE}", "device": plan.device,
        "gpus_per_trial": plan.gpus_per_trial,
        "versions": {"archspace": __version__, "torch": torch.__version__, "ray": ray.__version__,
                     "optuna": optuna.__version__, "python": platform.python_version()},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "host": platform.node()},
    }
