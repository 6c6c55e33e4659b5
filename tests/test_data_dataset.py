import logging

import numpy as np
import pytest
import torch

from archspace.data.dataset import VideoDataset
from archspace.data.samplers import MultiClipSampler, SegmentSampler, StridedSampler
from archspace.data.transforms import TestTransform, TrainTransform
from data_helpers import frame_numbers, make_bad_files, write_numbered


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    """A Kinetics-layout set with 3 good videos and one of each kind of bad input."""
    root = tmp_path_factory.mktemp("messy")
    folder = root / "train" / "waving"
    good = [write_numbered(folder / f"g{i}_000000_000010.mp4", 16 + i) for i in range(3)]
    write_numbered(folder / "short_000000_000010.mp4", 3)
    bad = make_bad_files(root / "scratch", good[0])
    for kind, path in bad.items():
        path.rename(folder / f"{kind}_000000_000010.mp4")
    names = ["g0", "g1", "g2", "short", "empty", "truncated", "text", "missing"]
    rows = ["label,youtube_id,time_start,time_end,split"] + [f"waving,{n},0,10,train" for n in names]
    (root / "train.csv").write_text("\n".join(rows) + "\n")
    return root


def test_bad_inputs_are_skipped_or_padded_counted_and_reported_once(messy, caplog):
    caplog.set_level(logging.WARNING, logger="archspace.data")
    ds = VideoDataset(messy, "train", sampler=SegmentSampler(8, train=False), transform=TestTransform(32))
    assert len(ds) == 6  # missing and empty are dropped up front
    for _ in range(2):
        items = [ds[i] for i in range(len(ds))]
    assert all(clip.shape == (3, 8, 32, 32) and label == 0 for clip, label in items)
    assert ds.problems.counts() == {"missing": 1, "empty": 1, "unreadable": 2, "padded": 1}
    assert ds.problems.files("unreadable") == ["text_000000_000010.mp4", "truncated_000000_000010.mp4"]
    assert ds.problems.files("padded") == ["short_000000_000010.mp4"]
    assert ds.problems.skipped() == ["empty_000000_000010.mp4", "missing_000000_000010.mp4",
                                     "text_000000_000010.mp4", "truncated_000000_000010.mp4"]
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 5 and sum("truncated_000000_000010.mp4" in m for m in warned) == 1


def test_probe_drops_unreadable_files_up_front(messy):
    ds = VideoDataset(messy, "train", probe=True)
    assert [e.path.name[:5] for e in ds.entries] == ["g0_00", "g1_00", "g2_00", "short"]
    assert ds.problems.counts() == {"missing": 1, "empty": 1, "unreadable": 2}


def test_short_video_repeats_frames_and_items_are_the_sampled_frames(messy):
    ds = VideoDataset(messy, "train", sampler=SegmentSampler(8, train=False), probe=True)
    clips, _ = ds.load_frames(3, np.random.default_rng(0))
    assert frame_numbers(clips[0]) == [0, 0, 0, 1, 1, 1, 2, 2]
    clips, _ = ds.load_frames(1, np.random.default_rng(0))  # g1: 17 frames
    assert frame_numbers(clips[0]) == [1, 3, 5, 7, 9, 11, 13, 15]


def test_training_items_are_reproducible_per_seed_and_epoch(messy):
    def make(seed):
        return VideoDataset(messy, "train", sampler=SegmentSampler(4), transform=TrainTransform(24), seed=seed,
                            probe=True)

    a, b = make(0), make(0)
    assert torch.equal(a[2][0], b[2][0])
    first = a[2][0]
    a.set_epoch(1)
    assert not torch.equal(a[2][0], first)
    assert not torch.equal(make(1)[2][0], first)


def test_multi_clip_multi_crop_testing_stacks_views(messy):
    sampler = MultiClipSampler(StridedSampler(4, 2, train=False), 2)
    ds = VideoDataset(messy, "train", sampler=sampler, transform=TestTransform(32, crops=3), probe=True)
    views, label = ds[0]
    assert views.shape == (6, 3, 4, 32, 32) and label == 0
    # Crops of the same clip differ in position, clips differ in time.
    assert not torch.equal(views[0], views[2]) and not torch.equal(views[0], views[3])
