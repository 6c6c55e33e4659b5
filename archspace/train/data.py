"""Data sets for training and testing, made from a recipe: the paper's sampling and
augmentation on decoded videos, or the clip cache for fast proxy training."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archspace.train.recipe import Recipe


@dataclass
class TrainData:
    train: Any
    val: Any
    classes: list[str]
    problems: list  # objects with .problems (ProblemLog): reported after the run
    layout: str = ""
    train_items: list = field(default_factory=list)  # (video id, label) of every training video

    def description(self, root) -> dict:
        """What a checkpoint keeps about its data: folder, layout and a fingerprint of the
        class names and training videos (plain strings, so torch.load(weights_only=True) reads it)."""
        from archspace.data.layouts import data_fingerprint

        return {"root": str(Path(root).resolve()), "layout": self.layout,
                "fingerprint": data_fingerprint(self.classes, self.train_items)}


def _base_sampler(recipe: Recipe, train: bool):
    from archspace.data.samplers import SegmentSampler, StridedSampler

    if recipe.sampling == "segment":
        return SegmentSampler(recipe.frames, train=train)
    return StridedSampler(recipe.frames, recipe.stride, train=train)


def make_train_data(root: str | Path, recipe: Recipe, layout: str | None = None, seed: int = 0,
                    use_cache: bool = False, cache_dir: str | Path | None = None, workers: int = 0) -> TrainData:
    """Training and validation sets of `root` under `recipe`.

    Decoded videos (default): the recipe's frame sampler, scale jitter, random crop and
    flip; validation: the centre view of one clip (items (1, C, T, H, W), which
    evaluate() scores as one view). use_cache: clips decoded once into
    the clip cache (centre segments, short side resized), then random crops from it.
    """
    from archspace.data.transforms import TestTransform, TrainTransform

    train_tf = TrainTransform(recipe.crop, short_side=recipe.short_side, flip=recipe.flip)
    val_tf = TestTransform(recipe.test_crop, short_side=recipe.test_short_side, crops=1)
    if use_cache:
        from archspace.data.cache import CachedClipDataset, ClipCache

        train_cache = ClipCache.build(root, "train", frames=recipe.frames, size=recipe.short_side[0], layout=layout, cache_dir=cache_dir)
        val_cache = ClipCache.build(root, "val", frames=recipe.frames, size=recipe.test_short_side, layout=layout, cache_dir=cache_dir)
        train = CachedClipDataset(train_cache, transform=train_tf, seed=seed)
        val = CachedClipDataset(val_cache, transform=val_tf, seed=seed)
        classes = list(train_cache.classes)
        return TrainData(train, val, classes, [train_cache, val_cache], train_cache.meta["layout"],
                         list(zip(train_cache.ids, train_cache.labels.tolist())))
    from archspace.data.dataset import VideoDataset

    # probe=True opens every file once here, so unreadable ones are dropped (and named once)
    # before training, not met again by every data-loader worker in every epoch.
    train = VideoDataset(root, "train", layout=layout, sampler=_base_sampler(recipe, True), transform=train_tf,
                         seed=seed, probe=True)
    val = VideoDataset(root, "val", layout=layout, sampler=_base_sampler(recipe, False), transform=val_tf,
                       seed=seed, probe=True)
    return TrainData(train, val, list(train.classes), [train, val], train.index.layout,
                     [(e.id, e.label) for e in train.entries])


def test_views(recipe: Recipe, clips: int | None = None, crops: int | None = None):
    """(sampler, transform) of multi-view testing: K clips x 1 or 3 crops (the recipe's
    unless given); items become (V, C, T, H, W), V = clips x crops."""
    from archspace.data.samplers import MultiClipSampler
    from archspace.data.transforms import TestTransform

    sampler = MultiClipSampler(_base_sampler(recipe, False), clips or recipe.test_clips)
    transform = TestTransform(recipe.test_crop, short_side=recipe.test_short_side, crops=crops or recipe.test_crops)
    return sampler, transform


def make_test_data(root: str | Path, recipe: Recipe, split: str = "val", layout: str | None = None,
                   clips: int | None = None, crops: int | None = None):
    """The multi-view test set: K clips x 1 or 3 crops per video, items (V, C, T, H, W)."""
    from archspace.data.dataset import VideoDataset

    sampler, transform = test_views(recipe, clips, crops)
    return VideoDataset(root, split, layout=layout, sampler=sampler, transform=transform)


def map_classes(dataset, classes: list[str]) -> list[str]:
    """Relabel `dataset`'s videos to the index of their class name in `classes` (a
    checkpoint's); videos of classes not in `classes` are dropped. Returns the dropped
    class names."""
    import dataclasses

    names = dataset.classes
    index = {name: i for i, name in enumerate(classes)}
    dataset.entries = [dataclasses.replace(e, label=index[names[e.label]])
                       for e in dataset.entries if names[e.label] in index]
    return [name for name in names if name not in index]
