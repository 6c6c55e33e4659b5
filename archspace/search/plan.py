"""A search's resolved settings: the space's, with the command line's overrides, and the
proxy data; turns genomes into trial specs, genome keys and objective values."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from archspace.errors import UserError
from archspace.genome import Genome, preset
from archspace.search.data import cache_root, proxy_cache_dir, resolve_proxy_data
from archspace.search.trial import TrialSpec


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


def genome_key(genome: dict, spec_budget: dict, seed: int, data: str) -> str:
    """Identity of a training: the same genome (as a dict), proxy budget, seed and data
    train alike."""
    blob = json.dumps([genome, spec_budget, seed, data], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class SearchPlan:
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
        self.budget = {"epochs": p.epochs, "fraction": p.fraction, "batch_size": p.batch_size, "base_lr": p.lr,
                       "recipe": p.recipe, "warmup_epochs": p.warmup_epochs, "width": p.width}
        if p.classes:
            self.budget["classes"] = list(p.classes)
        self.synth_options = dict(p.synth)
        self.objectives = dict(space.objectives)
        self.knob_names = [k.name for k in space.knobs]
        self.data: Optional[Path] = None
        self.cache_dir: Optional[Path] = None
        self.proxy_classes: Optional[int] = None
        self.reference_rows: dict[str, dict] = {}  # preset -> its row (cached or trained in this run)

    def resolve_data(self, progress: bool) -> None:
        self.data = resolve_proxy_data(self.data_arg, self.synth_options, progress=progress)
        self.cache_dir = proxy_cache_dir(self.data)
        from archspace.data.layouts import read_layout

        classes = read_layout(self.data).classes
        self.proxy_classes = len(self.budget.get("classes") or classes)

    def spec(self, genome: Genome, seed: Optional[int] = None, **extra) -> TrialSpec:
        """What a worker needs to train `genome` on this proxy (with `seed`, default the plan's)."""
        frames, crop = self.space.proxy_input(genome)
        latency = str(cache_root() / "latency") if "latency_ms" in self.objectives else None
        return TrialSpec(genome=genome.to_dict(), proxy_frames=frames, proxy_crop=crop, budget=self.budget,
                         data=str(self.data), cache_dir=str(self.cache_dir), seed=self.seed if seed is None else seed,
                         device=self.device, latency_cache=latency,
                         rung_mean_epochs=self.space.search.rung_mean_epochs, **extra)

    def key(self, spec: TrialSpec) -> str:
        budget = dict(spec.budget, frames=spec.proxy_frames, crop=spec.proxy_crop)
        return genome_key(spec.genome, budget, spec.seed, spec.data)

    def cost_attrs(self, cost) -> dict:
        """The exact cost (`space.cost(genome)`) as the table's columns."""
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
