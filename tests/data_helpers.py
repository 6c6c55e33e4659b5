"""Tiny real videos for the data tests: frame i shows i in binary as 8 black/white bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from archspace.data.synth import encode
from archspace.io import write_bytes_atomic


def numbered_frames(n: int, height: int = 32, width: int = 64) -> np.ndarray:
    """uint8 (n, H, W, 3): bit b of the frame index is bar b (white = 1)."""
    frames = np.zeros((n, height, width, 3), np.uint8)
    bar = width // 8
    for i in range(n):
        for b in range(8):
            if (i >> b) & 1:
                frames[i, :, b * bar : (b + 1) * bar] = 255
    return frames


def frame_numbers(frames: np.ndarray) -> list[int]:
    """Read the index back from decoded frames (T, H, W, 3)."""
    bar = frames.shape[2] // 8
    out = []
    for f in frames:
        bits = [f[:, b * bar + 1 : (b + 1) * bar - 1].mean() > 128 for b in range(8)]
        out.append(sum(1 << b for b, on in enumerate(bits) if on))
    return out


def write_numbered(path: Path, n: int, codec: str = "h264", gop: int | None = None, height: int = 32,
                   width: int = 64) -> Path:
    write_bytes_atomic(path, encode(numbered_frames(n, height, width), codec, gop=gop))
    return Path(path)


def make_bad_files(folder: Path, good: Path) -> dict[str, Path]:
    """A zero-byte file, a truncated copy of `good`, and a text file named like a video."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = good.suffix
    empty = folder / f"empty{suffix}"
    empty.write_bytes(b"")
    truncated = folder / f"truncated{suffix}"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 3])
    text = folder / f"notavideo{suffix}"
    text.write_text("this is not a video\n" * 20)
    return {"empty": empty, "truncated": truncated, "text": text}
