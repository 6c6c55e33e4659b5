import os
import pickle

import numpy as np
import pytest
import torch

import archspace.data.cache as cache_mod
from archspace.data import synth
from archspace.data.cache import CachedClipDataset, ClipCache, resize_and_centre_crop
from archspace.data.decode import read_frames
from archspace.data.layouts import read_layout
from archspace.data.samplers import SegmentSampler
from archspace.data.transforms import TrainTransform
from data_helpers import make_bad_files, write_numbered


@pytest.fixture()
def data(tmp_path):
    root = tmp_path / "synth"
    synth.generate(root, videos_per_class=1, val_videos_per_class=1, frames=12, size=32, seed=0, progress=False)
    return root


def test_cache_holds_the_decoded_resized_clips_and_labels(data):
    cache = ClipCache.build(data, "train", frames=4, size=24, progress=False)
    assert cache.clips.shape == (15, 4, 24, 24, 3) and cache.clips.dtype == np.uint8
    assert cache.path.parent == data / ".archspace-cache"
    entries = read_layout(data).entries("train")
    assert list(cache.labels) == [e.label for e in entries] and cache.ids == [e.id for e in entries]
    (indices,) = SegmentSampler(4, train=False).clips(12)
    assert indices == [1, 4, 7, 10]
    for i in (0, 7, 14):
        expected = resize_and_centre_crop(read_frames(entries[i].path, indices)[0], 24)
        assert np.array_equal(cache.clips[i], expected)
    reopened = pickle.loads(pickle.dumps(cache))
    assert len(pickle.dumps(cache)) < 500 and np.array_equal(reopened.clips, cache.clips)


def test_rebuild_reuses_and_changes_invalidate(data):
    first = ClipCache.build(data, "train", frames=4, size=24, progress=False)
    stamp = (first.path / "clips.u8").stat().st_mtime_ns
    again = ClipCache.build(data, "train", frames=4, size=24, progress=False)
    assert again.path == first.path and (again.path / "clips.u8").stat().st_mtime_ns == stamp
    other = ClipCache.build(data, "train", frames=4, size=16, progress=False)
    assert other.path != first.path and first.path.exists()  # other settings live side by side
    video = read_layout(data).entries("train")[3].path
    st = video.stat()
    os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the source changed
    rebuilt = ClipCache.build(data, "train", frames=4, size=24, progress=False)
    assert rebuilt.path != first.path and not first.path.exists()


class Interrupted(Exception):
    """Stands in for Ctrl-C (pytest treats a real KeyboardInterrupt as its own)."""


def test_interrupted_build_resumes_where_it_stopped(data, monkeypatch):
    real = cache_mod.read_frames
    calls, interrupt = [], [True]

    def interrupt_on_sixth(path, indices):
        calls.append(path)
        if interrupt[0] and len(calls) == 6:
            raise Interrupted
        return real(path, indices)

    monkeypatch.setattr(cache_mod, "_SAVE_EVERY_S", 0.0)
    monkeypatch.setattr(cache_mod, "read_frames", interrupt_on_sixth)
    with pytest.raises(Interrupted):
        ClipCache.build(data, "val", frames=4, size=24, progress=False)
    partial = next((data / ".archspace-cache").glob("*.partial"))
    calls.clear()
    interrupt[0] = False
    resumed = ClipCache.build(data, "val", frames=4, size=24, progress=False)
    assert len(calls) == 10  # 15 videos, 5 done before the interruption
    assert not partial.exists()
    monkeypatch.setattr(cache_mod, "read_frames", real)
    fresh = ClipCache.build(data, "val", frames=4, size=24, cache_dir=data / "fresh", progress=False)
    assert np.array_equal(resumed.clips, fresh.clips)


def test_bad_videos_are_left_out_and_listed(tmp_path):
    root = tmp_path / "set"
    good = [write_numbered(root / "train" / "a" / f"g{i}.mp4", 10) for i in range(2)]
    write_numbered(root / "train" / "b" / "short.mp4", 2)
    for kind, path in make_bad_files(tmp_path / "scratch", good[0]).items():
        path.rename(root / "train" / "b" / path.name)
    cache = ClipCache.build(root, "train", frames=4, size=16, progress=False)
    assert cache.ids == ["g0", "g1", "short"] and list(cache.labels) == [0, 0, 1]
    assert sorted(u["file"] for u in cache.unreadable) == ["empty.mp4", "notavideo.mp4", "truncated.mp4"]
    assert cache.meta["padded"] == ["short.mp4"]
    # The short video's 4 frames are its 2 frames repeated: [0, 0, 1, 1].
    short = root / "train" / "b" / "short.mp4"
    assert np.array_equal(cache.clips[2], resize_and_centre_crop(read_frames(short, [0, 0, 1, 1])[0], 16))


def test_cached_dataset_gives_float_clips(data):
    cache = ClipCache.build(data, "train", frames=4, size=24, progress=False)
    ds = CachedClipDataset(cache, TrainTransform(20, short_side=(24, 28)), seed=1)
    clip, label = ds[5]
    assert clip.shape == (3, 4, 20, 20) and label == int(cache.labels[5])
    assert np.array_equal(ds[5][0].numpy(), clip.numpy())


def test_open_refuses_a_folder_that_is_not_a_cache(tmp_path):
    from archspace.errors import UserError

    with pytest.raises(UserError, match="not a complete clip cache"):
        ClipCache.open(tmp_path)


def test_dataloader_workers_read_the_cache_and_decode(data):
    # Workers get the cache by path (no copy of the array) and decode with PyAV themselves.
    from torch.utils.data import DataLoader

    from archspace.data.dataset import VideoDataset

    cache = ClipCache.build(data, "train", frames=4, size=24, progress=False)
    ds = CachedClipDataset(cache, TrainTransform(20, short_side=(24, 28)), seed=3)
    direct = [ds[i][0] for i in range(len(ds))]
    loaded = torch.cat([x for x, _ in DataLoader(ds, batch_size=4, num_workers=2)])
    assert loaded.shape == (15, 3, 4, 20, 20) and all(np.array_equal(loaded[i], direct[i]) for i in range(15))
    videos = VideoDataset(data, "val", sampler=SegmentSampler(4, train=False))
    labels = [int(y) for _, ys in DataLoader(videos, batch_size=5, num_workers=2) for y in ys]
    assert labels == videos.labels


def _gradient(n: int, height: int, width: int) -> np.ndarray:
    """uint8 (n, H, W, 3): red grows with the column, green with the row, blue with time."""
    frames = np.zeros((n, height, width, 3), np.uint8)
    frames[..., 0] = np.arange(width)[None, None, :] * 255 // (width - 1)
    frames[..., 1] = np.arange(height)[None, :, None] * 255 // (height - 1)
    frames[..., 2] = (np.arange(n) * 255 // (n - 1))[:, None, None]
    return frames


def test_cache_crops_the_centre_of_non_square_videos(tmp_path):
    from archspace.data.synth import encode
    from archspace.data.transforms import resize_short_side, to_tensor
    from archspace.io import write_bytes_atomic

    root = tmp_path / "set"
    sizes = {"a/wide.mp4": (32, 64), "b/tall.mp4": (64, 32), "c/big.mp4": (48, 96)}
    for name, (h, w) in sizes.items():
        write_bytes_atomic(root / "train" / name, encode(_gradient(8, h, w)))
    (indices,) = SegmentSampler(4, train=False).clips(8)
    wide, tall, big = (read_frames(root / "train" / name, indices)[0] for name in sizes)
    cache = ClipCache.build(root, "train", frames=4, size=32, progress=False)
    assert cache.ids == ["wide", "tall", "big"]
    # Short side already 32: the clip is the decoded frames, the long side's middle 32.
    assert np.array_equal(cache.clips[0], wide[:, :, 16:48])
    assert np.array_equal(cache.clips[1], tall[:, 16:48, :])
    # 48 x 96 resized to 32 x 64 first, then columns 16..47.
    resized = resize_short_side(to_tensor(big), 32).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    assert resized.shape == (4, 32, 64, 3) and np.array_equal(cache.clips[2], resized[:, :, 16:48])
    # A corner crop would differ by a quarter of the red (columns) or green (rows) range.
    assert abs(int(cache.clips[0][..., 0].mean()) - int(wide[:, :, :32, 0].mean())) > 50
    assert abs(int(cache.clips[1][..., 1].mean()) - int(tall[:, :32, :, 1].mean())) > 50


_BUILD_WHEN_BOTH_READY = """
import sys, time
from pathlib import Path
from archspace.data.cache import ClipCache
ready = Path(sys.argv[2])
ready.touch()
while len(list(ready.parent.glob("ready-*"))) < 2:  # both processes start the build at once
    time.sleep(0.005)
cache = ClipCache.build(sys.argv[1], "train", frames=4, size=24, progress=False)
print(cache.path, int(cache.clips.sum()))
"""


def test_processes_building_the_same_cache_at_once_take_turns(data, tmp_path, python_training_command):
    # As the two ranks of `torchrun ... train --cache` do: before the lock, one process
    # renamed the shared .partial folder while the other was still finishing it. (Two
    # processes forked from the training fork server: `python -c` without the imports.)
    import subprocess

    procs = [subprocess.Popen([*python_training_command, "-c", _BUILD_WHEN_BOTH_READY, str(data), str(tmp_path / f"ready-{i}")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    single = ClipCache.build(data, "train", frames=4, size=24, progress=False)
    assert [out for out, _ in results] == [f"{single.path} {int(single.clips.sum())}\n"] * 2
