"""Data sets for training and testing, made from a recipe: the paper's sampling and
augmentation on decoded videos, or the clip cache for fast proxy training."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archspace.train.recipe import Recipe


@dataclass
class TrainData:
    train: Any
    val: Any
    classes: list[str]
    problems: list  # objects with .problems (ProblemLog): reported after the run


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
        return TrainData(train, val, classes, [train_cache, val_cache])
    from archspace.data.dataset import VideoDataset

    # probe=True opens every file once here, so unreadable ones are dropped (and named once)
    # before training, not met again by every data-loader worker in every epoch.
    train = VideoDataset(root, "train", layout=layout, sampler=_base_sampler(recipe, True), transform=train_tf,
                         seed=seed, probe=True)
    val = VideoDataset(root, "val", layout=layout, sampler=_base_sampler(recipe, False), transform=val_tf,
                       seed=seed, probe=True)
    return TrainData(train, val, list(train.classes), [train, val])


def make_test_data(root: str | Path, recipe: Recipe, split: str = "val", layout: str | None = None,
                   clips: int | None = None, crops: int | None = None):
    """The multi-view test set: K clips x 1 or 3 crops per video, items (V, C, T, H, W)."""
    from archspace.data.dataset import VideoDataset
    from archspace.data.samplers import MultiClipSampler
    from archspace.data.transforms import TestTransform

    sampler = MultiClipSampler(_base_sampler(recipe, False), clips or recipe.test_clips)
    transform = TestTransform(recipe.test_crop, short_side=recipe.test_short_side, crops=crops or recipe.test_crops)
    return VideoDataset(root, split, layout=layout, sampler=sampler, transform=transform)
