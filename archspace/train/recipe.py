"""Training recipes: the paper's optimiser, schedule and data settings, as YAML files.

experiments/recipes/ holds the three of the paper (Sec. 4.2): Something-Something from
scratch, Kinetics-400, and fine-tuning from Kinetics. A recipe never describes the
network; that is the Genome's job.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from archspace.errors import UserError

RECIPE_DIR = Path(__file__).resolve().parents[2] / "experiments" / "recipes"


@dataclass(frozen=True)
class Recipe:
    name: str = "ssv2_scratch"
    epochs: int = 100
    batch_size: int = 64
    # lr = base_lr * batch_size / reference_batch (linear scaling with the batch).
    base_lr: float = 0.1
    reference_batch: int = 64
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-5
    schedule: str = "cosine"  # "cosine" (half period) | "steps"
    steps: tuple[int, ...] = ()  # epochs at which "steps" multiplies the lr by gamma
    gamma: float = 0.1
    warmup_epochs: float = 0.0  # linear warm-up, in epochs ...
    warmup_iters: int = 0  # ... or in iterations (fine-tuning recipe)
    warmup_start_lr: float = 0.01
    dropout: float = 0.5
    zero_init_final_bn: bool = True
    label_smoothing: float = 0.0
    sync_bn: bool = False
    # Data
    sampling: str = "segment"  # "segment" (Something-Something) | "strided" (Kinetics)
    frames: int = 16
    stride: int = 1  # frame stride for "strided"
    crop: int = 224
    short_side: tuple[int, int] = (256, 320)  # scale jitter range of the training short side
    flip: bool = False  # off for direction-sensitive data
    test_short_side: int = 256
    test_crop: int = 256
    test_clips: int = 2
    test_crops: int = 3

    def __post_init__(self):
        for name in ("steps", "short_side"):
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        _validate(self)

    def lr_for_batch(self, batch_size: int) -> float:
        return self.base_lr * batch_size / self.reference_batch

    def with_size(self, frames: int | None = None, crop: int | None = None) -> "Recipe":
        """Frames and crop changed, the scale ranges scaled with the crop (proxy runs)."""
        changes: dict[str, Any] = {}
        if frames is not None:
            changes["frames"] = frames
        if crop is not None and crop != self.crop:
            k = crop / self.crop
            changes.update(
                crop=crop,
                short_side=(max(crop, round(self.short_side[0] * k)), max(crop, round(self.short_side[1] * k))),
                test_short_side=max(crop, round(self.test_short_side * k)),
                test_crop=max(crop, round(self.test_crop * k)),
            )
        return dataclasses.replace(self, **changes)

    def replace(self, **changes) -> "Recipe":
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise UserError(f"unknown recipe field {unknown[0]!r}; allowed: {', '.join(sorted(f.name for f in fields(self)))}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Any) -> "Recipe":
        if not isinstance(data, dict):
            raise UserError(f"a recipe must be a mapping of field: value; got {type(data).__name__}")
        return cls().replace(**data)


def _validate(r: Recipe) -> None:
    def fail(message: str):
        raise UserError(f"recipe {r.name!r}: {message}")

    if r.schedule not in ("cosine", "steps"):
        fail(f"schedule must be cosine or steps; got {r.schedule!r}")
    if r.sampling not in ("segment", "strided"):
        fail(f"sampling must be segment or strided; got {r.sampling!r}")
    for name in ("epochs", "batch_size", "reference_batch", "frames", "stride", "crop", "test_clips"):
        v = getattr(r, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            fail(f"{name} must be an integer >= 1; got {v!r}")
    if r.test_crops not in (1, 3):
        fail(f"test_crops must be 1 or 3; got {r.test_crops!r}")
    for name in ("base_lr", "weight_decay", "warmup_epochs", "warmup_start_lr", "momentum", "gamma"):
        v = getattr(r, name)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0 or not math.isfinite(v):
            fail(f"{name} must be a number >= 0; got {v!r}")
    if not 0 <= r.dropout < 1:
        fail(f"dropout must be in [0, 1); got {r.dropout!r}")
    if len(r.short_side) != 2 or not r.crop <= r.short_side[0] <= r.short_side[1]:
        fail(f"short_side must be [min, max] with crop <= min <= max; got {list(r.short_side)}")
    if r.test_crop > r.test_short_side:
        fail(f"test_crop {r.test_crop} is larger than test_short_side {r.test_short_side}")


def available_recipes() -> list[str]:
    return sorted(p.stem for p in RECIPE_DIR.glob("*.yaml"))


def load_recipe(name_or_path: str | Path) -> Recipe:
    """A recipe by name (experiments/recipes/NAME.yaml) or by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = RECIPE_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise UserError(f"unknown recipe {str(name_or_path)!r}; choose from {', '.join(available_recipes())} or give a YAML path")
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise UserError(f"cannot read recipe file {str(path)!r}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"malformed recipe YAML in {str(path)!r}: {getattr(exc, 'problem', exc)}") from None
    data = dict(data or {})
    data.setdefault("name", path.stem)
    return Recipe.from_dict(data)


def lr_at(recipe: Recipe, epoch_float: float, iteration: int, peak_lr: float) -> float:
    """Learning rate at a fractional epoch (and global iteration, for iteration warm-up).

    Linear warm-up from warmup_start_lr to the scheduled value, then the half-period
    cosine (to 0 at the last epoch) or step decay.
    """
    if recipe.schedule == "cosine":
        scheduled = peak_lr * 0.5 * (1.0 + math.cos(math.pi * epoch_float / recipe.epochs))
    else:
        scheduled = peak_lr * recipe.gamma ** sum(epoch_float >= s for s in recipe.steps)
    if recipe.warmup_iters and iteration < recipe.warmup_iters:
        alpha = iteration / recipe.warmup_iters
    elif recipe.warmup_epochs and epoch_float < recipe.warmup_epochs:
        alpha = epoch_float / recipe.warmup_epochs
    else:
        return scheduled
    return recipe.warmup_start_lr + alpha * (scheduled - recipe.warmup_start_lr)
