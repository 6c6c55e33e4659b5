"""A synthetic video benchmark where only motion tells the classes apart.

Nothing can be downloaded here, so loaders, training runs and searches are tested on
this: real encoded video files (H.264 .mp4 or VP9 .webm, written with PyAV), like
Something-Something in that temporal modelling is needed.

Every video shows one object on a background. Shape (circle, square, triangle, diamond,
cross; each with an off-centre marker dot so rotation shows), colour, size, start
position, background colour/gradient/texture and 0-3 static distractor shapes are drawn
from the same distributions for every class (object radius 16-24% of the frame side).
Only the motion depends on the class. Videos are square, 12 fps, `frames` long.

Classes (index = position in sorted order, as the folder reader assigns it):

  Order pairs: the second class is the first played backwards, so both show the same
  frames in distribution and only their order differs:
    moving_right / moving_left            horizontal translation by 35-55% of the width
    approaching / receding                 size grows / shrinks by a factor 1.8-2.2
    rotating_clockwise / rotating_counterclockwise   108-216 degrees, as seen on screen
    appearing / disappearing               fades in / out over 30-50% of the clip
  Tempo pairs: the same path at a different pace:
    oscillating_slowly / oscillating_fast  back and forth along a random axis, 1 vs 2 cycles
    moving_away / moving_away_and_back     vertical move (up or down, at random), versus
                                           the same move in half the time and back
  Unpaired:
    staying_still, jittering (small random jumps), orbiting (circles, either direction)

12 of the 15 classes are in pairs, so a single frame or a clip with shuffled frames
cannot tell them apart. Horizontal flip swaps moving_left/moving_right and the two
rotations: keep it off for this data.

Layout written by `generate(..., layout="folder")` (read by the folder reader):

    OUT/synth.json                    settings, classes, one record per video
    OUT/train/<class>/<id>.mp4        (.webm with codec vp9)
    OUT/val/<class>/<id>.mp4

`layout="ssv2"` writes Something-Something V2's layout instead: OUT/videos/<id>.webm,
labels.json, train.json, validation.json (templates like "Moving [something] from left
to right"), plus synth.json. The same seed gives byte-identical files and frames.
"""

from __future__ import annotations

import io
import json
import math
import os
import sys
from contextlib import contextmanager
from functools import partial
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from archspace.errors import UserError
from archspace.io import write_bytes_atomic, write_json_atomic

FPS = 12
SHAPES = ("circle", "square", "triangle", "diamond", "cross")
CODECS = {"h264": ("libx264", "mp4", ".mp4"), "vp9": ("libvpx-vp9", "webm", ".webm")}
LAYOUTS = ("folder", "ssv2")
# "easy": the same draws, then the object 1.4x larger, no distractors, no background
# texture; an easier variant for short proxy trainings. "standard" is the benchmark.
SCENES = ("standard", "easy")
_EASY_RADIUS = 1.4
SPLITS = ("train", "val")
_SUPERSAMPLE = 2  # render at 2x and average, so slow sub-pixel motion still shows


@dataclass(frozen=True)
class SynthClass:
    name: str
    template: str  # Something-Something style, "[something]" is the object
    description: str
    pair: str | None = None  # the class it is confused with without temporal order
    pair_kind: str | None = None  # "order" or "tempo"


_CLASS_LIST = [
    SynthClass("moving_right", "Moving [something] from left to right", "translates right", "moving_left", "order"),
    SynthClass("moving_left", "Moving [something] from right to left", "translates left", "moving_right", "order"),
    SynthClass("approaching", "Moving [something] closer", "grows by 1.8-2.2x", "receding", "order"),
    SynthClass("receding", "Moving [something] away from the camera", "shrinks by 1.8-2.2x", "approaching", "order"),
    SynthClass("rotating_clockwise", "Turning [something] clockwise", "rotates clockwise",
               "rotating_counterclockwise", "order"),
    SynthClass("rotating_counterclockwise", "Turning [something] counterclockwise", "rotates counterclockwise",
               "rotating_clockwise", "order"),
    SynthClass("appearing", "[something] appearing", "fades in", "disappearing", "order"),
    SynthClass("disappearing", "[something] disappearing", "fades out", "appearing", "order"),
    SynthClass("oscillating_slowly", "Shaking [something] slowly", "1 back-and-forth cycle",
               "oscillating_fast", "tempo"),
    SynthClass("oscillating_fast", "Shaking [something] fast", "2 back-and-forth cycles",
               "oscillating_slowly", "tempo"),
    SynthClass("moving_away", "Moving [something] up or down", "moves one way vertically",
               "moving_away_and_back", "tempo"),
    SynthClass("moving_away_and_back", "Moving [something] up or down and back",
               "moves vertically and returns", "moving_away", "tempo"),
    SynthClass("staying_still", "Holding [something] still", "does not move"),
    SynthClass("jittering", "Jiggling [something]", "small random jumps every frame"),
    SynthClass("orbiting", "Moving [something] in a circle", "circles around a centre, either direction"),
]
CLASSES: tuple[SynthClass, ...] = tuple(sorted(_CLASS_LIST, key=lambda c: c.name))
CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in CLASSES)
PAIRED_CLASSES: tuple[str, ...] = tuple(c.name for c in CLASSES if c.pair)
# Played backwards, the first of each order pair is the second.
_REVERSED = {"moving_left": "moving_right", "receding": "approaching",
             "rotating_counterclockwise": "rotating_clockwise", "disappearing": "appearing"}


# ----------------------------------------------------------------------------- scene


def _draw_scene(rng: np.random.Generator, kind: str = "standard") -> dict:
    """Class-independent appearance: drawn first, in the same order for every class.

    kind "easy" makes the same draws (so the motion that follows is the same) and then
    enlarges the object and drops the distractors and the texture."""
    bg = rng.uniform(0.0, 1.0, 3)
    colour = rng.uniform(0.0, 1.0, 3)
    while np.abs(colour - bg).sum() < 0.9:
        colour = rng.uniform(0.0, 1.0, 3)
    scene = {
        "shape": SHAPES[int(rng.integers(len(SHAPES)))],
        "colour": colour,
        "marker": 1.0 - colour,
        "radius": float(rng.uniform(0.16, 0.24)),
        "centre": rng.uniform(0.3, 0.7, 2),
        "angle": float(rng.uniform(0, 2 * math.pi)),
        "background": bg,
        "gradient": rng.uniform(-0.25, 0.25, 2),
        "texture": rng.uniform(-0.05, 0.05, (6, 6, 3)),
        "distractors": [
            (SHAPES[int(rng.integers(len(SHAPES)))], rng.uniform(0, 1, 3), rng.uniform(0.08, 0.92, 2),
             float(rng.uniform(0.04, 0.07)), float(rng.uniform(0, 2 * math.pi)))
            for _ in range(int(rng.integers(0, 4)))
        ],
    }
    if kind == "easy":
        scene.update(radius=scene["radius"] * _EASY_RADIUS, distractors=[], texture=np.zeros_like(scene["texture"]))
    return scene


def _motion(name: str, t: np.ndarray, rng: np.random.Generator, scene: dict) -> dict:
    """Per-frame centre (x, y), scale, angle and opacity for class `name`; t in [0, 1]."""
    if name in _REVERSED:  # the order pair's mirror: the same path, played backwards
        return _motion(_REVERSED[name], 1.0 - t, rng, scene)
    n = len(t)
    cx, cy = (np.full(n, v) for v in scene["centre"])
    scale, angle, alpha = np.ones(n), np.full(n, scene["angle"]), np.ones(n)
    margin = 0.15
    if name == "moving_right":
        dist = rng.uniform(0.35, 0.55)
        x0 = rng.uniform(margin, 1 - margin - dist)
        cx = x0 + dist * t
    elif name == "approaching":
        lo = rng.uniform(0.45, 0.6)
        hi = lo * rng.uniform(1.8, 2.2)
        scale = lo + (hi - lo) * t
    elif name == "rotating_clockwise":
        # Image y points down, so a growing angle turns clockwise on screen.
        angle = scene["angle"] + rng.uniform(0.6, 1.2) * math.pi * t
        scale = np.full(n, 1.2)
    elif name == "appearing":
        start = rng.uniform(0.1, 0.4)
        width = rng.uniform(0.3, 0.5)
        alpha = np.clip((t - start) / width, 0.0, 1.0)
    elif name in ("oscillating_slowly", "oscillating_fast"):
        cycles = 1 if name == "oscillating_slowly" else 2
        axis = rng.uniform(0, math.pi)
        amp, phase = rng.uniform(0.12, 0.2), rng.uniform(0, 2 * math.pi)
        offset = amp * np.sin(2 * math.pi * cycles * t + phase)
        cx, cy = cx + offset * math.cos(axis), cy + offset * math.sin(axis)
    elif name in ("moving_away", "moving_away_and_back"):
        dist = rng.uniform(0.35, 0.5) * (1 if rng.integers(2) else -1)
        y0 = rng.uniform(margin, 1 - margin - abs(dist)) + (abs(dist) if dist < 0 else 0)
        path = t if name == "moving_away" else 1.0 - np.abs(2 * t - 1)
        cy = y0 + dist * path
    elif name == "staying_still":
        pass
    elif name == "jittering":
        cx = cx + rng.uniform(-0.04, 0.04, n)
        cy = cy + rng.uniform(-0.04, 0.04, n)
    elif name == "orbiting":
        radius = rng.uniform(0.12, 0.2)
        turn = rng.uniform(0.75, 1.0) * 2 * math.pi * (1 if rng.integers(2) else -1)
        phase = rng.uniform(0, 2 * math.pi)
        cx = cx + radius * np.cos(phase + turn * t)
        cy = cy + radius * np.sin(phase + turn * t)
    else:
        raise ValueError(f"unknown synthetic class {name!r}")
    return {"cx": cx, "cy": cy, "scale": scale, "angle": angle, "alpha": alpha}


def _shape_mask(shape: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Inside test in object coordinates (unit radius)."""
    if shape == "circle":
        return x * x + y * y <= 1.0
    if shape == "square":
        return np.maximum(np.abs(x), np.abs(y)) <= 0.8
    if shape == "triangle":
        return (y <= 0.5) & (y >= -1.0 + 1.732 * np.abs(x))
    if shape == "diamond":
        return np.abs(x) + np.abs(y) <= 1.0
    if shape == "cross":
        return ((np.abs(x) <= 0.3) & (np.abs(y) <= 0.95)) | ((np.abs(y) <= 0.3) & (np.abs(x) <= 0.95))
    raise ValueError(shape)


def _coverage(shape: str, grid, cx, cy, radius, angle, marker: bool = False) -> np.ndarray:
    """Fraction of each output pixel covered (the grid is supersampled)."""
    gx, gy = grid
    dx, dy = (gx - cx) / radius, (gy - cy) / radius
    c, s = math.cos(angle), math.sin(angle)
    x, y = c * dx + s * dy, -s * dx + c * dy
    if marker:  # the dot that makes rotation visible
        inside = (x - 0.45) ** 2 + (y + 0.45) ** 2 <= 0.3**2
    else:
        inside = _shape_mask(shape, x, y)
    k = _SUPERSAMPLE
    h = inside.shape[0] // k
    return inside.reshape(h, k, h, k).mean(axis=(1, 3))


def render(class_name: str, rng: np.random.Generator, frames: int, size: int,
           scene_kind: str = "standard") -> tuple[np.ndarray, dict]:
    """Render one video of `class_name` (`scene_kind` "standard" or "easy", see SCENES).

    Returns (video, scene): video is uint8 (frames, size, size, 3) RGB; scene holds the
    drawn appearance (shape, colours, ...) as plain JSON-able values.
    """
    scene = _draw_scene(rng, scene_kind)
    t = np.linspace(0.0, 1.0, frames)
    motion = _motion(class_name, t, rng, scene)
    k = _SUPERSAMPLE
    coords = (np.arange(size * k) + 0.5) / (size * k)
    grid = np.meshgrid(coords, coords, indexing="xy")
    # Background: colour + linear gradient + a smooth texture, then the static distractors.
    u = (np.arange(size) + 0.5) / size
    gx, gy = np.meshgrid(u, u, indexing="xy")
    bg = scene["background"] + (scene["gradient"][0] * (gx - 0.5) + scene["gradient"][1] * (gy - 0.5))[..., None]
    reps = -(-size // scene["texture"].shape[0])
    bg = bg + np.kron(scene["texture"], np.ones((reps, reps, 1)))[:size, :size]
    for shape, colour, centre, radius, angle in scene["distractors"]:
        cov = _coverage(shape, grid, centre[0], centre[1], radius, angle)[..., None]
        bg = bg * (1 - cov) + colour * cov
    video = np.empty((frames, size, size, 3), np.float64)
    radius = scene["radius"]
    for f in range(frames):
        cx, cy = motion["cx"][f], motion["cy"][f]
        r, ang, a = radius * motion["scale"][f], motion["angle"][f], motion["alpha"][f]
        body = _coverage(scene["shape"], grid, cx, cy, r, ang)[..., None] * a
        dot = _coverage(scene["shape"], grid, cx, cy, r, ang, marker=True)[..., None] * a
        img = bg * (1 - body) + scene["colour"] * body
        video[f] = img * (1 - dot) + scene["marker"] * dot
    video = np.clip(np.round(video * 255.0), 0, 255).astype(np.uint8)
    plain = {
        "shape": scene["shape"],
        "colour": [round(float(v), 4) for v in scene["colour"]],
        "background": [round(float(v), 4) for v in scene["background"]],
        "radius": round(scene["radius"], 4),
        "distractors": len(scene["distractors"]),
    }
    return video, plain


# ----------------------------------------------------------------------------- encoding


def encode(video: np.ndarray, codec: str = "h264", fps: int = FPS, gop: int | None = None) -> bytes:
    """Encode uint8 (T, H, W, 3) frames; returns the file's bytes (deterministic).

    bitexact muxing, one encoder thread and x264 without assembly make the same frames
    give the same bytes, whatever was encoded before in the process.
    gop sets the keyframe interval (None: the encoder's default). Raises UserError for an
    unknown codec.
    """
    if codec not in CODECS:
        raise UserError(f"unknown codec {codec!r}; choose from {', '.join(CODECS)}")
    encoder, fmt, _ = CODECS[codec]
    # asm=0: x264's SIMD paths gave different bytes for the same frames depending on what
    # the process encoded before (seen with PyAV 18 / 32 px frames); plain C is exact.
    options = {"crf": "18", "preset": "veryfast", "x264-params": "asm=0"} if codec == "h264" else {
        "crf": "24", "b": "0", "cpu-used": "8", "deadline": "realtime", "row-mt": "0"}
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt, container_options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream(encoder, rate=fps)
        stream.width, stream.height = video.shape[2], video.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = options
        stream.codec_context.thread_count = 1
        if gop:
            stream.codec_context.gop_size = gop
        stream.codec_context.flags |= getattr(av.codec.context.Flags, "bitexact", 0)
        for i, array in enumerate(video):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts = i  # explicit timestamps: without them x264's choices can vary
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


# ----------------------------------------------------------------------------- benchmark


def video_id(split: str, class_index: int, k: int) -> str:
    """Stable id of the k-th video of a class in a split (independent of counts, for resume)."""
    return f"{SPLITS.index(split) + 1}{class_index:02d}{k:05d}"


def _settings(frames, size, seed, codec, layout, scene="standard") -> dict:
    settings = {"generator": "archspace.data.synth/2", "frames": frames, "size": size, "seed": seed,
                "codec": codec, "layout": layout, "fps": FPS}
    if scene != "standard":  # absent for the standard benchmark, whose manifest stays as it was
        settings["scene"] = scene
    return settings


def generate(
    out: str | Path,
    videos_per_class: int = 20,
    val_videos_per_class: int | None = None,
    frames: int = 32,
    size: int = 64,
    seed: int = 0,
    codec: str | None = None,
    layout: str = "folder",
    progress: bool = True,
    scene: str = "standard",
    workers: int | None = None,
) -> dict:
    """Write the synthetic benchmark under `out`; returns a summary dict.

    Deterministic for a seed. Resumable: a video file that exists was written completely
    (atomic writes), so a re-run skips it. `codec` defaults to h264 (vp9 for ssv2, whose
    videos are .webm). Val gets `val_videos_per_class` (default max(1, videos_per_class // 4)).
    `scene` "easy" draws larger objects, without distractors or texture (see SCENES).
    `workers` > 1 renders and encodes in that many processes (the files are the same:
    every video has a random generator of its own); None: one per core from
    POOL_FROM_VIDEOS videos on, else 1.
    Raises UserError for bad settings or when `out` holds a benchmark with other settings.
    """
    from tqdm import tqdm

    out = Path(out)
    if scene not in SCENES:
        raise UserError(f"unknown synth scene {scene!r}; choose from {', '.join(SCENES)}")
    if layout not in LAYOUTS:
        raise UserError(f"unknown synth layout {layout!r}; choose from {', '.join(LAYOUTS)}")
    codec = codec or ("vp9" if layout == "ssv2" else "h264")
    if codec not in CODECS:
        raise UserError(f"unknown codec {codec!r}; choose from {', '.join(CODECS)}")
    if layout == "ssv2" and codec != "vp9":
        raise UserError(f"the ssv2 layout stores .webm files, so codec must be vp9; got {codec!r}")
    if not isinstance(size, int) or size < 16 or size % 2:
        raise UserError(f"size must be an even integer >= 16 (yuv420p); got {size!r}")
    if not isinstance(frames, int) or frames < 2:
        raise UserError(f"frames must be an integer >= 2; got {frames!r}")
    if not isinstance(videos_per_class, int) or videos_per_class < 1:
        raise UserError(f"videos-per-class must be an integer >= 1; got {videos_per_class!r}")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise UserError(f"workers must be an integer >= 1; got {workers!r}")
    if val_videos_per_class is None:
        val_videos_per_class = max(1, videos_per_class // 4)
    settings = _settings(frames, size, seed, codec, layout, scene)
    manifest_path = out / "synth.json"
    if manifest_path.exists():
        try:
            old = json.loads(manifest_path.read_text())["settings"]
        except (ValueError, KeyError, TypeError):
            raise UserError(f"{manifest_path} is not a synth manifest; choose an empty --out") from None
        if old != settings:
            changed = sorted(k for k in set(settings) | set(old) if old.get(k) != settings.get(k))
            raise UserError(
                f"{out} holds a benchmark with other settings ({', '.join(changed)}); "
                f"use another --out or delete it"
            )
    else:
        write_json_atomic(manifest_path, {"settings": settings, "complete": False})

    counts = {"train": videos_per_class, "val": val_videos_per_class}
    suffix = CODECS[codec][2]
    jobs = []
    for split in SPLITS:
        for ci, cls in enumerate(CLASSES):
            for k in range(counts[split]):
                vid = video_id(split, ci, k)
                rel = f"videos/{vid}{suffix}" if layout == "ssv2" else f"{split}/{cls.name}/{vid}{suffix}"
                jobs.append((split, ci, k, vid, rel))

    if workers is None:
        workers = (os.cpu_count() or 1) if len(jobs) >= POOL_FROM_VIDEOS else 1
    make = partial(_make_video, out=str(out), seed=seed, frames=frames, size=size, scene=scene, codec=codec)
    records, written = [], 0
    with _pool(workers) as pool:
        results = pool.map(make, jobs, chunksize=8) if pool else map(make, jobs)
        for record, new_file in tqdm(results, total=len(jobs), desc="synth", unit="video", file=sys.stderr,
                                     disable=not progress):
            records.append(record)
            written += new_file

    if layout == "ssv2":
        _write_ssv2_annotations(out, records)
    manifest = {
        "settings": settings,
        "complete": True,
        "classes": [{"index": i, "name": c.name, "template": c.template, "description": c.description,
                     "pair": c.pair, "pair_kind": c.pair_kind} for i, c in enumerate(CLASSES)],
        "videos": records,
    }
    write_json_atomic(manifest_path, manifest)
    return {"out": str(out), "layout": layout, "codec": codec, "classes": len(CLASSES),
            "videos": {s: counts[s] * len(CLASSES) for s in SPLITS}, "written": written,
            "skipped": len(jobs) - written}


def _make_video(job: tuple, out: str, seed: int, frames: int, size: int, scene: str, codec: str) -> tuple[dict, int]:
    """Render one video (`job`: split, class index, k, id, file) and write it unless its
    file exists: (manifest record, files written)."""
    split, ci, k, vid, rel = job
    rng = np.random.default_rng([seed, SPLITS.index(split), ci, k])
    path = Path(out) / rel
    # The scene is drawn even when skipping, so the manifest is the same either way.
    video, drawn = render(CLASSES[ci].name, rng, frames, size, scene)
    written = 0
    if not path.exists():
        write_bytes_atomic(path, encode(video, codec))
        written = 1
    return {"id": vid, "split": split, "class": CLASSES[ci].name, "label": ci, "file": rel, "scene": drawn}, written


# A spawned worker takes about a second of CPU to start (it imports numpy and PyAV): a
# pool pays for itself from a few hundred videos on, and costs time on a handful.
POOL_FROM_VIDEOS = 300


@contextmanager
def _pool(workers: int):
    """A process pool of `workers` (spawned: the caller may hold torch's threads), or None for 1."""
    if workers <= 1:
        yield None
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        yield pool


def _write_ssv2_annotations(out: Path, records: list[dict]) -> None:
    """labels.json (template -> index, as strings like the real file) and the split lists."""
    labels = {c.template.replace("[", "").replace("]", ""): str(i) for i, c in enumerate(CLASSES)}
    write_json_atomic(out / "labels.json", labels)
    for split, name in (("train", "train.json"), ("val", "validation.json")):
        entries = []
        for r in records:
            if r["split"] != split:
                continue
            template = CLASSES[r["label"]].template
            thing = f"{r['scene']['shape']}"
            entries.append({"id": r["id"], "label": template.replace("[something]", thing),
                            "template": template, "placeholders": [thing]})
        write_json_atomic(out / name, entries)
