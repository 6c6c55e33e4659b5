"""The proxy trainable that a search calls: a genome on a small budget, from the clip cache.

    from archspace.train.proxy import ProxyBudget, train_proxy
    metrics = train_proxy(genome, "data/synth", ProxyBudget(epochs=5, frames=8, crop=64),
                          report=lambda m: print(m["epoch"], m["val_top1"]))

The clip cache is built once per data set and settings and then only read (memory
mapped), so many trials in parallel processes share it without decoding again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from archspace.errors import UserError
from archspace.genome import Genome


@dataclass(frozen=True)
class ProxyBudget:
    epochs: int = 10
    frames: int = 8
    crop: int = 64
    fraction: float = 1.0  # of the training videos, the same share of every class
    batch_size: int = 16
    base_lr: Optional[float] = None  # at the recipe's reference batch; None keeps the recipe's
    warmup_epochs: float = 1.0
    recipe: str = "ssv2_scratch"
    # Train and validate on these classes only, labels renumbered 0..k-1 in this order;
    # None: every class of the data set.
    classes: Optional[tuple[str, ...]] = None
    # Train a narrower copy of the network: every width times this (cost is still counted
    # on the genome as given). Small networks take off within a 2-core budget; M/L-sized
    # ones mostly do not (experiments/proxy_calibration.md).
    width: float = 1.0

    def __post_init__(self):
        if self.classes is not None:
            object.__setattr__(self, "classes", tuple(self.classes))
            if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
                raise UserError(f"budget classes must name at least 2 distinct classes; got {list(self.classes)}")
        if not 0 < self.width <= 1:
            raise UserError(f"budget width must be in (0, 1]; got {self.width!r}")
        if not 0 < self.fraction <= 1:
            raise UserError(f"budget fraction must be in (0, 1]; got {self.fraction!r}")
        for name in ("epochs", "frames", "crop", "batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise UserError(f"budget {name} must be an integer >= 1; got {getattr(self, name)!r}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["classes"] = None if self.classes is None else list(self.classes)
        return d


class _EpochSubset:
    """A subset that passes set_epoch through (torch's Subset does not); `relabel` maps
    the data set's labels to the subset's."""

    def __init__(self, dataset, indices: list[int], relabel: Optional[dict[int, int]] = None):
        self.dataset, self.indices, self.relabel = dataset, indices, relabel

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        clip, label = self.dataset[self.indices[i]]
        return clip, (label if self.relabel is None else self.relabel[label])


def class_subset(dataset, names: list[str], wanted: tuple[str, ...]) -> _EpochSubset:
    """The items of `dataset` (a CachedClipDataset) in the classes `wanted`, labels
    renumbered by their position in `wanted`. Raises UserError for an unknown class."""
    unknown = [c for c in wanted if c not in names]
    if unknown:
        raise UserError(f"unknown class {unknown[0]!r} in budget classes; the data set has: {', '.join(names)}")
    relabel = {names.index(c): k for k, c in enumerate(wanted)}
    indices = [i for i, label in enumerate(dataset.cache.labels) if int(label) in relabel]
    return _EpochSubset(dataset, indices, relabel)


def stratified_indices(labels, fraction: float, seed: int) -> list[int]:
    """round(fraction * n) videos of each class (at least one), drawn with `seed`."""
    labels = np.asarray(labels)
    rng = np.random.default_rng([seed, 7919])
    keep = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        take = max(1, round(fraction * len(members)))
        keep.extend(rng.choice(members, size=take, replace=False).tolist())
    return sorted(keep)


def narrower(genome: Genome, scale: float) -> Genome:
    """`genome` with every width times `scale`, each rounded to an even number >= 2
    (T-OSA modules output half their inner width). scale 1 returns the genome itself."""
    if scale == 1:
        return genome

    def w(width: int) -> int:
        return max(2, 2 * round(width * scale / 2))

    return genome.replace(inner_widths=tuple(w(x) for x in genome.inner_widths),
                          out_widths=tuple(w(x) for x in genome.out_widths), stem_width=w(genome.stem_width),
                          head_width=w(genome.head_width), fc_width=w(genome.fc_width))


def proxy_recipe(budget: ProxyBudget):
    """The recipe of a proxy run: the budget's recipe at its input, epochs and lr."""
    from archspace.train.recipe import load_recipe

    recipe = load_recipe(budget.recipe).with_size(budget.frames, budget.crop)
    recipe = recipe.replace(epochs=budget.epochs, warmup_epochs=min(budget.warmup_epochs, budget.epochs / 2))
    if budget.base_lr is not None:
        recipe = recipe.replace(base_lr=budget.base_lr)
    return recipe


def train_proxy(
    genome: Genome,
    data: str | Path,
    budget: ProxyBudget = ProxyBudget(),
    report: Optional[Callable[[dict], None]] = None,
    seed: int = 0,
    layout: Optional[str] = None,
    cache_dir: Optional[str | Path] = None,
    device: str = "cpu",
    workers: int = 0,
) -> dict:
    """Train `genome` on `data` within `budget`; `report(metrics)` after every epoch.

    Returns the last epoch's metrics (val_top1, val_top5, train_loss, per-class val_class_hits and
    val_class_videos, val_classes naming them, ...). The genome's
    frames, crop and classes are set from the budget and the data set (or the budget's
    class subset).
    """
    from archspace.train.data import make_train_data
    from archspace.train.device import init_runtime
    from archspace.train.loop import TrainSetup, train

    recipe = proxy_recipe(budget)
    sets = make_train_data(data, recipe, layout=layout, seed=seed, use_cache=True, cache_dir=cache_dir)
    train_set, val_set, classes = sets.train, sets.val, list(sets.classes)
    if budget.classes is not None:
        train_set = class_subset(train_set, classes, budget.classes)
        val_set = class_subset(val_set, classes, budget.classes)
        classes = list(budget.classes)
    if budget.fraction < 1:
        labels = sets.train.cache.labels
        if budget.classes is not None:
            labels = labels[train_set.indices]
        keep = stratified_indices(labels, budget.fraction, seed)
        if budget.classes is not None:
            train_set = _EpochSubset(sets.train, [train_set.indices[i] for i in keep], train_set.relabel)
        else:
            train_set = _EpochSubset(train_set, keep)
    genome = narrower(genome, budget.width)
    genome = genome.replace(frames=budget.frames, crop=budget.crop, train_crop=budget.crop, classes=len(classes))
    setup = TrainSetup(genome, recipe, epochs=budget.epochs, batch_size=budget.batch_size, seed=seed,
                       workers=workers, out=None, progress=False)
    runtime = init_runtime(device)

    def named(metrics: dict) -> dict:  # per-class counts (val_class_hits, ...) need the class names
        return {**metrics, "val_classes": classes}

    last = train(setup, train_set, val_set, runtime, on_epoch_end=(lambda m: report(named(m))) if report else None)
    return named(last)
