"""Spatial transforms: uint8 frames (T, H, W, 3) in, float tensors (C, T, H, W) out.

Training: short side jittered in [min, max], a random crop, horizontal flip (OFF by
default: it swaps left/right and clockwise/counter-clockwise, which are classes in
Something-Something and the synthetic benchmark), normalisation.
Testing: short side resized, then 1 (centre) or 3 (both ends and centre of the long
side) square crops, as (V, C, T, H, W).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# PySlowFast's Kinetics statistics, in [0, 1] units.
MEAN = (0.45, 0.45, 0.45)
STD = (0.225, 0.225, 0.225)


def to_tensor(frames) -> torch.Tensor:
    """uint8 (T, H, W, 3) array or tensor -> float (T, 3, H, W) in [0, 255]."""
    t = torch.as_tensor(np.ascontiguousarray(frames)) if not isinstance(frames, torch.Tensor) else frames
    if t.ndim != 4 or t.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3); got shape {tuple(t.shape)}")
    return t.permute(0, 3, 1, 2).float()


def resize_short_side(x: torch.Tensor, short: int) -> torch.Tensor:
    """Resize (T, 3, H, W) so that min(H, W) == short, keeping the aspect ratio."""
    h, w = x.shape[-2:]
    if min(h, w) == short:
        return x
    if h <= w:
        size = (short, max(short, round(w * short / h)))
    else:
        size = (max(short, round(h * short / w)), short)
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def normalise(x: torch.Tensor, mean=MEAN, std=STD) -> torch.Tensor:
    """(T, 3, H, W) in [0, 255] -> (3, T, H, W) normalised."""
    m = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    return ((x / 255.0 - m) / s).permute(1, 0, 2, 3).contiguous()


class TrainTransform:
    """Short-side jitter, random crop, optional flip, normalisation.

    Call with (frames, rng: numpy Generator); returns float (3, T, crop, crop).
    """

    def __init__(self, crop: int, short_side: tuple[int, int] | None = None, flip: bool = False,
                 mean=MEAN, std=STD):
        self.crop = int(crop)
        # The paper's 224 crop from a short side in [256, 320] is [8/7, 10/7] x crop.
        self.short_side = tuple(short_side) if short_side else (round(crop * 8 / 7), round(crop * 10 / 7))
        if self.short_side[0] < self.crop or self.short_side[1] < self.short_side[0]:
            raise ValueError(f"short_side must satisfy crop <= min <= max; got {self.short_side} for crop {crop}")
        self.flip, self.mean, self.std = flip, mean, std

    def __call__(self, frames, rng: np.random.Generator) -> torch.Tensor:
        x = resize_short_side(to_tensor(frames), int(rng.integers(self.short_side[0], self.short_side[1] + 1)))
        h, w = x.shape[-2:]
        top = int(rng.integers(h - self.crop + 1))
        left = int(rng.integers(w - self.crop + 1))
        x = x[..., top : top + self.crop, left : left + self.crop]
        if self.flip and rng.random() < 0.5:
            x = x.flip(-1)
        return normalise(x, self.mean, self.std)

    def __repr__(self) -> str:
        return f"TrainTransform(crop={self.crop}, short_side={self.short_side}, flip={self.flip})"


class TestTransform:
    """Short-side resize, then 1 or 3 square crops; returns float (V, 3, T, crop, crop)."""

    __test__ = False  # not a pytest class

    def __init__(self, crop: int, short_side: int | None = None, crops: int = 1, mean=MEAN, std=STD):
        if crops not in (1, 3):
            raise ValueError(f"crops must be 1 or 3; got {crops!r}")
        self.crop = int(crop)
        self.short_side = int(short_side or crop)
        if self.short_side < self.crop:
            raise ValueError(f"short_side {self.short_side} is smaller than crop {self.crop}")
        self.crops, self.mean, self.std = crops, mean, std

    def __call__(self, frames, rng: np.random.Generator | None = None) -> torch.Tensor:
        x = resize_short_side(to_tensor(frames), self.short_side)
        h, w = x.shape[-2:]
        c = self.crop
        centre = ((h - c) // 2, (w - c) // 2)
        if self.crops == 1:
            corners = [centre]
        elif w >= h:  # three crops along the long side: start, centre, end
            corners = [(centre[0], 0), centre, (centre[0], w - c)]
        else:
            corners = [(0, centre[1]), centre, (h - c, centre[1])]
        return torch.stack([normalise(x[..., t : t + c, l : l + c], self.mean, self.std) for t, l in corners])

    def __repr__(self) -> str:
        return f"TestTransform(crop={self.crop}, short_side={self.short_side}, crops={self.crops})"
