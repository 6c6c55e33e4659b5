"""One proxy trial, as Ray Tune runs it in a worker process: train a genome on the
proxy budget and report accuracy after every epoch.

A failure (an exception, NaN loss, out of memory) is data: it is reported as a result
with `failed` and the error, and the search goes on.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from archspace.genome import Genome


@dataclass(frozen=True)
class TrialSpec:
    """What a worker needs to run one trial; travels as Ray Tune's config (a plain dict)."""

    genome: dict  # at the target input: cost is counted there
    proxy_frames: int
    proxy_crop: int
    budget: dict  # ProxyBudget fields other than frames and crop
    data: str
    cache_dir: str
    seed: int = 0
    device: str = "cpu"
    threads: int = 1
    kind: str = "trial"  # or "reference"
    number: Optional[int] = None  # the Optuna trial number
    preset: Optional[str] = None  # reference rows
    latency_cache: Optional[str] = None  # measure forward latency at the target, cached per genome
    label: Optional[str] = None  # names the trial's folder (experiments: one per genome, proxy and seed)
    rung_mean_epochs: int = 1  # rung_accuracy: the mean accuracy of this many last epochs (what ASHA compares)

    def to_config(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_config(cls, config: dict) -> "TrialSpec":
        return cls(**config)

    def proxy_budget(self):
        from archspace.train.proxy import ProxyBudget

        return ProxyBudget(frames=self.proxy_frames, crop=self.proxy_crop, **self.budget)


def run_trial(config: dict) -> None:
    """Ray Tune function trainable (reports through ray.tune.report)."""
    from ray import tune

    spec = TrialSpec.from_config(config)
    node = _node_id()
    train_spec(spec, lambda metrics: tune.report({**metrics, "node": node}))


def train_spec(spec: TrialSpec, report: Callable[[dict], None]) -> None:
    """Train the trial and call `report(metrics)` after every epoch (and once on failure).

    Training runs in the caller's thread and waits in `report`: when Ray Tune stops a
    trial (ASHA), its report raises SystemExit there, which ends the training at once.
    (Training in a thread of its own kept a pruned trial training to its last epoch
    beside the next trial in the same reused process.) An Exception from training is
    reported as a failed result; SystemExit and KeyboardInterrupt pass through."""
    import torch

    torch.set_num_threads(spec.threads)
    started = time.perf_counter()
    genome = Genome.from_dict(spec.genome)
    history: list[float] = []
    latency_ms: Optional[float] = None  # set before training; progress() reads it

    def progress() -> dict:
        """What every report holds: the accuracies so far, and the seconds."""
        return {"accuracy": history[-1] if history else 0.0,
                "rung_accuracy": rung_accuracy(history, spec.rung_mean_epochs), "epoch": len(history),
                "accuracy_by_epoch": list(history), "failed": False, "error": "", "latency_ms": latency_ms,
                "wall_s": time.perf_counter() - started}

    def on_epoch(m: dict) -> None:
        history.append(m["val_top1"])
        report({**progress(), "epoch": m["epoch"], "val_top5": m["val_top5"], "train_loss": m["train_loss"],
                # [class, hits, videos] of each class, from the same evaluation (a list: Ray Tune
                # flattens the dicts of a result before a Searcher sees them)
                "per_class": [list(c) for c in zip(m["val_classes"], m["val_class_hits"], m["val_class_videos"])]})

    try:
        if spec.latency_cache:
            latency_ms = cached_latency(genome, spec.device, Path(spec.latency_cache))
        from archspace.train.proxy import train_proxy

        train_proxy(genome, spec.data, spec.proxy_budget(), report=on_epoch, seed=spec.seed,
                    cache_dir=spec.cache_dir, device=spec.device)
    except Exception as exc:  # noqa: BLE001 - a failed trial is a row, not a crash
        report({**progress(), "failed": True, "error": _one_line(exc), "traceback": traceback.format_exc(limit=4)})


def rung_accuracy(history: list[float], epochs: int) -> float:
    """What ASHA compares at a rung: the mean accuracy of the last `epochs` epochs (one
    epoch's accuracy on a small proxy swings by several points from the next one's); 0
    before the first epoch."""
    recent = history[-epochs:]
    return sum(recent) / len(recent) if recent else 0.0


def cached_latency(genome: Genome, device: str, folder: Path) -> float:
    """Median forward time (ms, batch 1) of the genome at its target input on `device`,
    measured once per (genome, device) and cached as JSON."""
    import hashlib

    from archspace.io import write_json_atomic
    from archspace.measure import measure

    key = hashlib.sha256(json.dumps([genome.to_dict(), device], sort_keys=True).encode()).hexdigest()[:16]
    path = folder / f"{key}.json"
    if path.exists():
        return json.loads(path.read_text())["latency_ms"]
    m = measure(genome, device=device, batch=1, warmup=1, repeats=3)
    write_json_atomic(path, m.to_dict())
    return m.latency_ms


def _node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"


# What a finished trial keeps: the fields of its last report (and per-class counts).
RESULT_FIELDS = ("accuracy", "accuracy_by_epoch", "epochs", "wall_s", "node", "error", "latency_ms", "per_class")


def outcome(result: Optional[dict], error: bool, epochs: int) -> tuple[str, dict]:
    """(state, attrs) of a trial from its last report: "failed" when it raised or its
    process died, "pruned" when it stopped before `epochs` (ASHA), else "complete";
    attrs holds RESULT_FIELDS. The search and experiments settle trials with this."""
    result = dict(result or {})
    if error:
        result.update(failed=True, error=result.get("error") or "the trial's process died (see Ray's log)")
    done = int(result.get("epoch") or 0)
    state = "failed" if result.get("failed") else "pruned" if done < epochs else "complete"
    attrs = {"accuracy": result.get("accuracy"), "accuracy_by_epoch": result.get("accuracy_by_epoch", []),
             "epochs": done, "wall_s": result.get("wall_s"), "node": result.get("node"),
             "error": result.get("error") or None, "latency_ms": result.get("latency_ms"),
             "per_class": {name: [hits, videos] for name, hits, videos in result.get("per_class") or []}}
    return state, attrs
