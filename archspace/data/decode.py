"""Decoding video files with PyAV: probe a file, read chosen frames, never crash on bad input.

Everything a bad file can do (not exist, be empty, be truncated, not be a video) surfaces
as one exception type, `UnreadableVideo`, carrying the file name and a one-line reason,
so callers can skip the file, count it and report it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# Below this first index we decode from the start: a seek costs a keyframe search and on
# short clips (one GOP) lands at frame 0 anyway.
_SEEK_MIN_INDEX = 32


class UnreadableVideo(Exception):
    """A video that cannot be read; `path` and `reason` say which and why."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{Path(path).name}: {reason}")
        self.path = Path(path)
        self.reason = reason


@dataclass(frozen=True)
class VideoInfo:
    """What a reader needs before decoding: frame count, rate and frame size."""

    frames: int
    fps: float
    width: int
    height: int


def _open(path: Path):
    """Open a container with a video stream; raises UnreadableVideo."""
    if not path.exists():
        raise UnreadableVideo(path, "missing file")
    if path.stat().st_size == 0:
        raise UnreadableVideo(path, "empty file (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise UnreadableVideo(path, f"not a readable video ({_short(exc)})") from None
    if not container.streams.video:
        container.close()
        raise UnreadableVideo(path, "no video stream")
    return container


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def _rate(stream) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return Fraction(rate) if rate else Fraction(25)


def probe(path: str | Path) -> VideoInfo:
    """Frame count, fps and size of a video.

    The frame count comes from the container header where it has one (mp4) and from
    counting packets otherwise (webm has no count); packets are demuxed, not decoded.
    Raises UnreadableVideo for missing, empty, non-video or frameless files.
    """
    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        frames = stream.frames
        if not frames:
            try:
                frames = sum(1 for packet in container.demux(stream) if packet.size)
            except av.FFmpegError:
                frames = 0
        if frames <= 0 or not width or not height:
            raise UnreadableVideo(path, "no decodable frames")
        return VideoInfo(frames=int(frames), fps=float(_rate(stream)), width=int(width), height=int(height))
    finally:
        container.close()


def read_frames(path: str | Path, indices) -> tuple[np.ndarray, bool]:
    """Decode the frames at `indices` (0-based, any order, repeats allowed).

    Returns (frames, complete): frames is uint8 (len(indices), H, W, 3) RGB; complete is
    False when the file ended (or broke) before some requested index, in which case those
    positions repeat the nearest earlier frame that decoded: a short or truncated video is
    padded by repeating frames. Seeks to the first wanted frame where the container allows.
    Raises UnreadableVideo when not a single frame decodes.
    """
    path = Path(path)
    indices = [int(i) for i in indices]
    if not indices or min(indices) < 0:
        raise ValueError(f"read_frames needs non-negative indices; got {indices!r}")
    first = min(indices)
    if first >= _SEEK_MIN_INDEX:
        try:
            return _decode(path, indices, seek=True)
        except _Overshoot:
            pass
    return _decode(path, indices, seek=False)


def _frames(container, stream):
    """Decoded frames in order; a corrupt packet is skipped, a broken container ends the
    stream (and the decoder is flushed, so frames it holds still come out)."""
    try:
        for packet in container.demux(stream):
            try:
                yield from packet.decode()
            except av.FFmpegError:
                continue
    except av.FFmpegError:
        pass
    try:
        yield from stream.codec_context.decode(None)
    except av.FFmpegError:
        pass


class _Overshoot(Exception):
    """The seek landed after the wanted frame (no usable index): decode from the start."""


def _decode(path: Path, indices: list[int], seek: bool) -> tuple[np.ndarray, bool]:
    wanted = set(indices)
    first, last = min(wanted), max(wanted)
    got: dict[int, np.ndarray] = {}
    tail = None  # the last frame decoded, converted only if padding needs it
    tail_position = -1
    container = _open(path)
    try:
        stream = container.streams.video[0]
        rate = _rate(stream)
        time_base = stream.time_base or Fraction(1, 1000)
        start = stream.start_time or 0
        if seek:
            target = start + int(Fraction(first) / rate / time_base)
            try:
                container.seek(target, stream=stream, backward=True, any_frame=False)
            except av.FFmpegError:
                seek = False
        position = -1
        for frame in _frames(container, stream):
            # Position from the timestamp, so a seek knows where it landed.
            if seek and frame.pts is not None:
                position = int(round((frame.pts - start) * time_base * rate))
                if tail is None and position > first:
                    raise _Overshoot
            else:
                position += 1
            if position in wanted:
                got[position] = frame.to_ndarray(format="rgb24")
            tail, tail_position = frame, position
            if position >= last:
                break
    finally:
        container.close()
    if tail is None:
        raise UnreadableVideo(path, "no frame could be decoded")
    if all(i in got for i in indices):
        return np.stack([got[i] for i in indices]), True
    if tail_position not in got:
        got[tail_position] = tail.to_ndarray(format="rgb24")
    known = sorted(got)
    out = []
    for i in indices:
        earlier = [k for k in known if k <= i]
        out.append(got[earlier[-1] if earlier else known[0]])
    return np.stack(out), False
