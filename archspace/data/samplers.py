"""Frame samplers: which frame indices of an n-frame video make a clip.

Each sampler maps a position u in [0, 1) to a clip, so that training (u drawn at random)
and testing (u fixed) pick frames the same way:

- `SegmentSampler(N)`: split the video into N equal segments and take one frame from
  each: a random frame per segment in training, the centre frame in testing (TSN, and
  the paper's Something-Something recipe).
- `StridedSampler(T, stride)`: T frames `stride` apart from a start (random in
  training, centred in testing) (SlowFast/X3D, the paper's Kinetics recipe).
- `MultiClipSampler(base, K)`: K test clips at positions (k + 0.5) / K, evenly spread.

A video shorter than the clip gets repeated frames (indices are clamped), never an error.
`clips(n, rng)` returns a list of index lists: one clip in training, K in testing.
"""

from __future__ import annotations

import numpy as np


def _check_positive(name: str, value: int) -> int:
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    return int(value)


class SegmentSampler:
    """One frame from each of N equal segments (random in training, centre in testing)."""

    def __init__(self, num_segments: int, train: bool = True):
        self.num_segments = _check_positive("num_segments", num_segments)
        self.train = train

    @property
    def clip_length(self) -> int:
        return self.num_segments

    def _bounds(self, n: int) -> list[tuple[int, int]]:
        """(first index, length) of each segment; a short video repeats frames."""
        out = []
        for i in range(self.num_segments):
            lo = (i * n) // self.num_segments
            hi = ((i + 1) * n) // self.num_segments
            out.append((min(lo, n - 1), max(hi - lo, 1)))
        return out

    def at(self, n: int, u: float) -> list[int]:
        """The clip at position u in [0, 1): the frame at fraction u of every segment."""
        _check_positive("n", n)
        return [lo + min(int(u * length), length - 1) for lo, length in self._bounds(n)]

    def clips(self, n: int, rng: np.random.Generator | None = None) -> list[list[int]]:
        """One clip: a random frame per segment in training (needs rng), centres in testing."""
        if not self.train:
            return [self.at(n, 0.5)]
        _check_positive("n", n)
        return [[lo + int(rng.integers(length)) for lo, length in self._bounds(n)]]

    def __repr__(self) -> str:
        return f"SegmentSampler({self.num_segments}, train={self.train})"


class StridedSampler:
    """T frames at a fixed stride from a start: random in training, centred in testing."""

    def __init__(self, num_frames: int, stride: int = 1, train: bool = True):
        self.num_frames = _check_positive("num_frames", num_frames)
        self.stride = _check_positive("stride", stride)
        self.train = train

    @property
    def clip_length(self) -> int:
        return self.num_frames

    @property
    def span(self) -> int:
        """Frames from the first to the last index of a clip, both included."""
        return (self.num_frames - 1) * self.stride + 1

    def at(self, n: int, u: float) -> list[int]:
        """The clip starting at fraction u of the possible starts; clamped to the last frame."""
        _check_positive("n", n)
        starts = max(n - self.span, 0) + 1
        start = min(int(u * starts), starts - 1)
        return [min(start + i * self.stride, n - 1) for i in range(self.num_frames)]

    def clips(self, n: int, rng: np.random.Generator | None = None) -> list[list[int]]:
        if not self.train:
            return [self.at(n, 0.5)]
        _check_positive("n", n)
        starts = max(n - self.span, 0) + 1
        start = int(rng.integers(starts))
        return [[min(start + i * self.stride, n - 1) for i in range(self.num_frames)]]

    def __repr__(self) -> str:
        return f"StridedSampler({self.num_frames}, stride={self.stride}, train={self.train})"


class MultiClipSampler:
    """K testing clips of a base sampler at positions (k + 0.5) / K, k = 0..K-1."""

    train = False

    def __init__(self, base: SegmentSampler | StridedSampler, num_clips: int):
        self.base = base
        self.num_clips = _check_positive("num_clips", num_clips)

    @property
    def clip_length(self) -> int:
        return self.base.clip_length

    def clips(self, n: int, rng: np.random.Generator | None = None) -> list[list[int]]:
        return [self.base.at(n, (k + 0.5) / self.num_clips) for k in range(self.num_clips)]

    def __repr__(self) -> str:
        return f"MultiClipSampler({self.base!r}, {self.num_clips})"
