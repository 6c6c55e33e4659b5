"""The Ray runner shared by `archspace search` and `archspace experiment`: start (or
join) Ray, let Ray Tune train what a Searcher hands out with `run_trial`, `concurrency`
at once, and stop Ray again, also after Ctrl-C.

    interrupted = run_trials(out, address, searcher, concurrency=2)

The search's Searcher asks an Optuna study (searcher.py); an experiment's hands out a
fixed list of trial specs (`queue_searcher`).
"""

from __future__ import annotations

import contextlib
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from archspace.search.cluster import start_ray, stop_recorded_ray


def run_trials(out: Path, address: Optional[str], searcher, concurrency: int, gpus_per_trial: float = 0.0,
               scheduler=None) -> bool:
    """Train every trial `searcher` suggests until it says FINISHED; Ray's files go to
    out/ray/tune-N. Returns True when Ctrl-C stopped it (finished trials are kept)."""
    try:
        start_ray(out, address)  # inside the try: a Ctrl-C while Ray starts stops it too
        _fit(out, searcher, concurrency, gpus_per_trial, scheduler)
    except KeyboardInterrupt:
        return True
    finally:
        import ray

        ray.shutdown()
        if not address:
            stop_recorded_ray(out)
    return False


def _fit(out: Path, searcher, concurrency: int, gpus_per_trial: float, scheduler) -> None:
    """Run the trials with Ray Tune until the searcher says FINISHED (Ctrl-C raises
    KeyboardInterrupt out of it)."""
    from ray import tune

    from archspace.search.trial import run_trial

    resources = {"cpu": 1, "gpu": gpus_per_trial}
    interrupted = CtrlC()
    attempt = len(list((out / "ray").glob("tune-*"))) if (out / "ray").exists() else 0
    tuner = tune.Tuner(
        tune.with_resources(run_trial, resources),
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=-1,
                                    # a finished or stopped trial's process (torch and archspace
                                    # imported) trains the next one: a stopped trial's training
                                    # ends in its report (trial.train_spec), so none runs on
                                    max_concurrent_trials=concurrency, reuse_actors=True,
                                    trial_dirname_creator=_trial_dirname),
        run_config=tune.RunConfig(name=f"tune-{attempt}", storage_path=str(out / "ray"), verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=0),
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=None),
                                  callbacks=[_stop_on_ctrl_c(interrupted)]),
    )
    with _ctrl_c_remembered(interrupted):
        tuner.fit()


@dataclass
class CtrlC:
    """Whether Ctrl-C was pressed (a plain flag: Ray Tune pickles its callbacks, locks and
    Events do not pickle)."""

    pressed: bool = False


@contextlib.contextmanager
def _ctrl_c_remembered(interrupted: CtrlC):
    """Ctrl-C raises KeyboardInterrupt as usual, and is also remembered: Python drops an
    exception raised while a garbage-collector callback runs (a search once went on after
    Ctrl-C because SQLAlchemy's weakref callback swallowed it), so the Tune loop checks
    the flag at every step (_stop_on_ctrl_c)."""
    def on_sigint(signum, frame):
        interrupted.pressed = True
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread (a notebook's worker thread): Python's default stays
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _stop_on_ctrl_c(interrupted: CtrlC):
    from ray.tune import Callback

    class StopOnCtrlC(Callback):
        def on_step_begin(self, iteration, trials, **info):
            if interrupted.pressed:
                raise KeyboardInterrupt

    return StopOnCtrlC()


def _trial_dirname(trial) -> str:
    """Ray's default folder name lists the whole config; the spec's label, the preset or
    the Optuna number says more."""
    config = trial.config
    label = config.get("label") or (config.get("preset") if config.get("kind") == "reference"
                                    else f"trial-{config.get('number')}")
    return f"{label}-{trial.trial_id}"


def queue_searcher(configs: list[dict], on_result: Callable[[dict, Optional[dict], bool], None]):
    """A Ray Tune Searcher that hands out `configs` (TrialSpec configs) in order, then
    FINISHED; `on_result(config, last_result, error)` as each trial ends."""
    from ray.tune.search import Searcher

    class QueueSearcher(Searcher):
        def __init__(self):
            super().__init__(metric="accuracy", mode="max")
            self.queue = list(configs)
            self.running: dict[str, dict] = {}

        def suggest(self, trial_id: str):
            if not self.queue:
                return Searcher.FINISHED
            self.running[trial_id] = config = self.queue.pop(0)
            return config

        def on_trial_complete(self, trial_id: str, result: Optional[dict] = None, error: bool = False):
            on_result(self.running.pop(trial_id), result, error)

    return QueueSearcher()
