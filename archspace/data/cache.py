"""Clip cache: decode a split once into a memory-mapped uint8 array for proxy training.

    cache = ClipCache.build("data/synth", "train", frames=8, size=64)
    cache.clips            # np.memmap uint8 (N, 8, 64, 64, 3), read-only
    cache.labels           # int64 (N,)
    clip, label = cache[0]

Each video gives one clip: the centre frame of each of `frames` segments (the testing
choice of SegmentSampler), short side resized to `size`, centre-cropped to size x size.
Many processes can open the same cache at once: the OS shares the mapped pages, nothing
is decoded again. A ClipCache pickles as its path, so DataLoader workers reopen it.

Files: `<cache_dir>/<split>-<frames>x<size>-<key>/` with clips.u8 (raw array) and
meta.json; cache_dir defaults to `<root>/.archspace-cache/`. The key hashes the settings
and the source (annotation files, and every video's name, size and mtime), so a change
to either builds a new cache and the stale one is removed. A build writes into a
`.partial` folder, saves its progress as it goes and resumes after an interruption;
the folder is renamed into place only when complete. Unreadable videos are left out and
listed in meta.json; short ones are padded by repeating frames.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from archspace.data.dataset import screen_entries
from archspace.data.decode import UnreadableVideo, probe, read_frames
from archspace.data.layouts import normalise_split, read_layout
from archspace.data.problems import ProblemLog
from archspace.data.samplers import SegmentSampler
from archspace.data.transforms import normalise, resize_short_side, to_tensor
from archspace.errors import UserError
from archspace.io import file_lock, write_json_atomic

FORMAT = "archspace.clipcache/1"
from archspace.cachedir import CACHE_DIRNAME  # noqa: E402  (one name for the folder)
_SAVE_EVERY_S = 2.0  # progress is saved at most this often (and at the end)


def _fingerprint(index, split: str, entries, frames: int, size: int) -> str:
    """Hash of the settings and the source: a change to either changes the key."""
    h = hashlib.sha256()
    h.update(json.dumps({"format": FORMAT, "frames": frames, "size": size, "split": split,
                         "layout": index.layout, "classes": index.classes}, sort_keys=True).encode())
    for path in index.annotation_files:
        st = path.stat()
        h.update(f"A {path.name} {st.st_size} {st.st_mtime_ns}\n".encode())
    for e in entries:
        try:
            st = e.path.stat()
            h.update(f"V {e.path.relative_to(index.root)} {e.label} {st.st_size} {st.st_mtime_ns}\n".encode())
        except FileNotFoundError:
            h.update(f"V {e.path.name} missing\n".encode())
    return h.hexdigest()[:12]


def resize_and_centre_crop(frames: np.ndarray, size: int) -> np.ndarray:
    """uint8 (T, H, W, 3) -> uint8 (T, size, size, 3): short side to `size`, centre crop."""
    x = resize_short_side(to_tensor(frames), size)
    h, w = x.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    x = x[..., top : top + size, left : left + size]
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


class ClipCache:
    """A built cache, opened read-only: clips (N, T, H, W, 3) uint8, labels, ids, classes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        meta_path = self.path / "meta.json"
        try:
            self.meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            raise UserError(f"{self.path} is not a complete clip cache (no readable meta.json)") from None
        if self.meta.get("format") != FORMAT:
            raise UserError(f"{self.path} has cache format {self.meta.get('format')!r}; expected {FORMAT!r}")
        n, t, s = self.meta["count"], self.meta["frames"], self.meta["size"]
        shape = (n, t, s, s, 3)
        # A zero-length file cannot be mapped: an empty cache is an empty array.
        self.clips = (np.memmap(self.path / "clips.u8", np.uint8, "r", shape=shape) if n
                      else np.zeros(shape, np.uint8))
        self.labels = np.asarray(self.meta["labels"], dtype=np.int64)
        self.ids: list[str] = self.meta["ids"]
        self.classes: list[str] = self.meta["classes"]
        self.unreadable: list[dict] = self.meta["unreadable"]

    @classmethod
    def open(cls, path: str | Path) -> "ClipCache":
        """Open a built cache folder; raises UserError if it is not one."""
        return cls(path)

    @classmethod
    def build(cls, root, split: str = "train", frames: int = 8, size: int = 64, layout: str | None = None,
              cache_dir: str | Path | None = None, progress: bool = True) -> "ClipCache":
        """Build (or reuse, or resume) the cache of `split` and open it.

        Returns the opened ClipCache. Reuses a complete cache with the same key; resumes
        a `.partial` one. Raises UserError for a bad root/layout/split or settings.
        """
        if not isinstance(frames, int) or frames < 1 or not isinstance(size, int) or size < 1:
            raise UserError(f"frames and size must be integers >= 1; got frames={frames!r}, size={size!r}")
        split = normalise_split(split)
        index = read_layout(root, layout)
        problems = ProblemLog()
        entries = screen_entries(index, split, problems)
        key = _fingerprint(index, split, index.entries(split), frames, size)
        cache_dir = Path(cache_dir) if cache_dir is not None else Path(root) / CACHE_DIRNAME
        stem = f"{split}-{frames}x{size}-"
        final = cache_dir / f"{stem}{key}"
        if (final / "meta.json").exists():
            return cls(final)
        # Processes that need the same cache at once (DDP ranks, parallel trials): one
        # builds it while the others wait, then they open what it built.
        with file_lock(cache_dir / f"{stem}{key}.lock"):
            if not (final / "meta.json").exists():
                _remove_stale(cache_dir, stem, key)
                partial = cache_dir / f"{stem}{key}.partial"
                _fill(partial, entries, frames, size, problems, progress, desc=f"cache {split}")
                _finish(partial, index, split, entries, frames, size, key, problems)
                os.replace(partial, final)
        return cls(final)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        """(uint8 (T, H, W, 3) clip, label)."""
        return self.clips[i], int(self.labels[i])

    def __getstate__(self):
        return {"path": str(self.path)}

    def __setstate__(self, state):
        self.__init__(state["path"])

    def __repr__(self) -> str:
        return f"ClipCache({str(self.path)!r}, clips={tuple(self.clips.shape)})"


def _remove_stale(cache_dir: Path, stem: str, key: str) -> None:
    """Caches of the same split and settings with another key are out of date."""
    if not cache_dir.is_dir():
        return
    for old in cache_dir.iterdir():
        if old.name.startswith(stem) and not old.name.startswith(f"{stem}{key}"):
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)  # the lock file of an old key


def _fill(partial: Path, entries, frames: int, size: int, problems: ProblemLog, progress: bool, desc: str):
    """Decode every entry into partial/clips.u8, resuming from partial/progress.json."""
    from tqdm import tqdm

    partial.mkdir(parents=True, exist_ok=True)
    n = len(entries)
    row = frames * size * size * 3
    data_path, progress_path = partial / "clips.u8", partial / "progress.json"
    state = {"done": 0, "status": []}
    if progress_path.exists() and data_path.exists() and data_path.stat().st_size == n * row:
        try:
            state = json.loads(progress_path.read_text())
        except ValueError:
            state = {"done": 0, "status": []}
    else:  # nothing usable: start clean
        for p in (data_path, progress_path):
            p.unlink(missing_ok=True)
    if n == 0:
        data_path.touch()
        write_json_atomic(progress_path, state)
        return
    clips = np.memmap(data_path, np.uint8, "r+" if data_path.exists() else "w+", shape=(n, frames, size, size, 3))
    sampler = SegmentSampler(frames, train=False)
    last_save = time.monotonic()

    def save():
        clips.flush()  # data first, then the claim that it is there
        write_json_atomic(progress_path, state)

    done = state["done"]
    bar = tqdm(total=n, initial=done, desc=desc, unit="video", file=sys.stderr, disable=not progress)
    for i in range(done, n):
        entry = entries[i]
        try:
            info = probe(entry.path)
            (indices,) = sampler.clips(info.frames)
            video, complete = read_frames(entry.path, indices)
            clips[i] = resize_and_centre_crop(video, size)
            status = "ok" if complete and len(set(indices)) == len(indices) else "padded"
        except UnreadableVideo as exc:
            status = f"unreadable: {exc.reason}"
        state["status"].append(status)
        state["done"] = i + 1
        bar.update(1)
        if time.monotonic() - last_save > _SAVE_EVERY_S:
            save()
            last_save = time.monotonic()
    save()
    bar.close()
    del clips
    for entry, status in zip(entries, state["status"]):
        if status == "padded":
            problems.record("padded", entry.path.name, f"fewer than {frames} frames; frames repeated")
        elif status.startswith("unreadable"):
            problems.record("unreadable", entry.path.name, status.split(": ", 1)[1])


def _finish(partial: Path, index, split, entries, frames, size, key, problems: ProblemLog) -> None:
    """Compact out unreadable rows and write meta.json (whose presence means complete)."""
    state = json.loads((partial / "progress.json").read_text())
    keep = [i for i, s in enumerate(state["status"]) if not s.startswith("unreadable")]
    row = frames * size * size * 3
    data_path = partial / "clips.u8"
    if len(keep) < len(entries) and keep:
        clips = np.memmap(data_path, np.uint8, "r+", shape=(len(entries), row))
        for j, i in enumerate(keep):
            if i != j:
                clips[j] = clips[i]
        clips.flush()
        del clips
    with open(data_path, "r+b") as f:
        f.truncate(len(keep) * row)
    meta = {
        "format": FORMAT, "key": key, "root": str(Path(index.root).resolve()), "layout": index.layout,
        "split": split, "frames": frames, "size": size, "sampling": "segment centres",
        "count": len(keep), "classes": index.classes,
        "labels": [entries[i].label for i in keep], "ids": [entries[i].id for i in keep],
        "unreadable": [p for p in problems.as_list() if p["kind"] != "padded"],
        "padded": problems.files("padded"),
    }
    (partial / "progress.json").unlink()
    write_json_atomic(partial / "meta.json", meta)


class CachedClipDataset(Dataset):
    """A ClipCache as a torch Dataset: (float (3, T, H, W), label).

    transform(frames uint8 (T, H, W, 3), rng) as in archspace.data.transforms (default:
    normalise only); seed and set_epoch make the random draws reproducible.
    """

    def __init__(self, cache: ClipCache, transform=None, seed: int = 0):
        self.cache, self.transform, self.seed, self.epoch = cache, transform, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.cache)

    def __getitem__(self, i: int):
        clip, label = self.cache[i]
        clip = np.array(clip)  # a private, writable copy of the mapped pages
        if self.transform is None:
            return normalise(to_tensor(clip)), label
        return self.transform(clip, np.random.default_rng([self.seed, self.epoch, i])), label
