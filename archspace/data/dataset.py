"""`VideoDataset`: a layout on disk + a frame sampler + a transform, as a torch Dataset.

    ds = VideoDataset("data/synth", "train", sampler=SegmentSampler(8), transform=TrainTransform(56))
    clip, label = ds[0]          # float (3, 8, 56, 56), int

In testing, a sampler with several clips (MultiClipSampler) or a transform with several
crops gives (V, 3, T, H, W), V = clips x crops, in clip-major order.

Bad files never stop a run. Missing and empty files are dropped when the dataset is
made; with probe=True every file is opened then and unreadable ones dropped too, so
len() is exact. Otherwise an unreadable file met in __getitem__ is recorded and the next
index is returned instead. Videos shorter than the clip are padded by repeating frames.
Everything is recorded once per file in `dataset.problems`; each data-loader worker has
its own copy, so `dataset.problems.share(path)` before loading gathers them (the CLI
does, into the run folder).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from archspace.data.decode import UnreadableVideo, probe, read_frames
from archspace.data.layouts import DatasetIndex, VideoEntry, normalise_split, read_layout
from archspace.data.problems import ProblemLog
from archspace.data.samplers import SegmentSampler
from archspace.data.transforms import normalise, to_tensor


def screen_entries(index: DatasetIndex, split: str, problems: ProblemLog,
                   open_files: bool = False) -> list[VideoEntry]:
    """The entries of `split` that are usable: missing, empty files and annotations that lead
    out of the data folder recorded and dropped.

    With open_files=True every file is probed (header and packet count) and unreadable
    ones are dropped too. Raises UserError for an unknown split.
    """
    split = normalise_split(split)
    for kind, name, reason in index.annotation_problems(split):
        problems.record(kind, name, reason)
    kept = []
    for entry in index.entries(split):
        if not entry.path.exists():
            problems.record("missing", entry.path.name, "file not found")
            continue
        if entry.path.stat().st_size == 0:
            problems.record("empty", entry.path.name, "empty file (0 bytes)")
            continue
        if open_files:
            try:
                probe(entry.path)
            except UnreadableVideo as exc:
                problems.record("unreadable", entry.path.name, exc.reason)
                continue
        kept.append(entry)
    return kept


class VideoDataset(Dataset):
    """Videos of one split of a data set; items are (clip float tensor, label int).

    root: the data folder; layout: "ssv2" | "kinetics" | "folder" or None to detect;
    sampler: a sampler from archspace.data.samplers (default: 8 segments, random frames
    for split "train", centres otherwise); transform: called as transform(frames, rng)
    on uint8 (T, H, W, 3) (default: normalise only, no resize); seed: with the epoch
    (set_epoch) and the index, fixes every random choice, so items are reproducible in
    any worker. Raises UserError for a bad root, layout or split.
    """

    def __init__(self, root, split: str = "train", layout: str | None = None, sampler=None, transform=None,
                 seed: int = 0, probe: bool = False, max_retries: int = 10):
        self.index = root if isinstance(root, DatasetIndex) else read_layout(root, layout)
        self.split = normalise_split(split)
        self.problems = ProblemLog()
        self.entries = screen_entries(self.index, split, self.problems, open_files=probe)
        self.sampler = sampler if sampler is not None else SegmentSampler(8, train=self.split == "train")
        self.transform = transform
        self.seed = seed
        self.epoch = 0
        self.max_retries = max_retries
        self._bad: set[int] = set()  # entries found unreadable in this process: not reopened

    @classmethod
    def of_files(cls, paths, sampler=None, transform=None, probe: bool = False) -> "VideoDataset":
        """Single video files, not a data set (for prediction): one split "files", label -1."""
        entries = [VideoEntry(Path(p), -1, Path(p).stem) for p in paths]
        return cls(DatasetIndex("files", Path("."), [], {"files": entries}), "files", sampler=sampler,
                   transform=transform, probe=probe)

    @property
    def classes(self) -> list[str]:
        return self.index.classes

    @property
    def labels(self) -> list[int]:
        return [e.label for e in self.entries]

    def set_epoch(self, epoch: int) -> None:
        """New random draws per epoch, still reproducible."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.entries)

    def load_frames(self, i: int, rng: np.random.Generator) -> tuple[list[np.ndarray], int]:
        """Decode the clips of item i: (list of uint8 (T, H, W, 3), label). Raises UnreadableVideo."""
        entry = self.entries[i]
        info = probe(entry.path)
        clips = self.sampler.clips(info.frames, rng)
        flat = [j for clip in clips for j in clip]
        frames, complete = read_frames(entry.path, flat)
        if not complete:
            self.problems.record("padded", entry.path.name, "ended before its stated frame count; last frame repeated")
        elif any(len(set(clip)) < len(clip) for clip in clips):
            self.problems.record("padded", entry.path.name,
                                 f"{info.frames} frames, fewer than the clip's {self.sampler.clip_length}; frames repeated")
        out, start = [], 0
        for clip in clips:
            out.append(frames[start : start + len(clip)])
            start += len(clip)
        return out, entry.label

    def __getitem__(self, i: int):
        if not 0 <= i < len(self.entries):
            raise IndexError(i)
        for attempt in range(self.max_retries + 1):
            j = (i + attempt) % len(self.entries)
            if j in self._bad:
                continue
            rng = np.random.default_rng([self.seed, self.epoch, j])
            try:
                clips, label = self.load_frames(j, rng)
            except UnreadableVideo as exc:
                self.problems.record("unreadable", exc.path.name, exc.reason)
                self._bad.add(j)
                continue
            views = []
            for clip in clips:
                x = self.transform(clip, rng) if self.transform is not None else normalise(to_tensor(clip))
                views.extend(x.unbind(0) if x.ndim == 5 else [x])
            return (views[0] if len(views) == 1 else torch.stack(views)), label
        raise RuntimeError(
            f"{self.max_retries + 1} videos in a row from index {i} could not be read; "
            f"see dataset.problems: {self.problems.files()[:5]}"
        )
