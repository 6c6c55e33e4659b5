import numpy as np
import pytest

from archspace.data.samplers import MultiClipSampler, SegmentSampler, StridedSampler


def test_segment_testing_takes_each_segment_centre():
    # 32 frames, 8 segments of 4: centres at 2, 6, ...
    assert SegmentSampler(8, train=False).clips(32) == [[2, 6, 10, 14, 18, 22, 26, 30]]
    # Uneven: 10 frames in 4 segments [0,1] [2,3,4] [5,6] [7,8,9]
    assert SegmentSampler(4, train=False).clips(10) == [[1, 3, 6, 8]]


def test_segment_training_draws_one_frame_inside_each_segment():
    sampler = SegmentSampler(4)
    seen = set()
    for s in range(200):
        (clip,) = sampler.clips(10, np.random.default_rng(s))
        assert clip[0] in (0, 1) and clip[1] in (2, 3, 4) and clip[2] in (5, 6) and clip[3] in (7, 8, 9)
        seen.add(tuple(clip))
    assert len(seen) == 2 * 3 * 2 * 3  # every combination turns up
    a = sampler.clips(100, np.random.default_rng(7))
    assert a == sampler.clips(100, np.random.default_rng(7))


def test_segment_short_video_repeats_frames():
    assert SegmentSampler(8, train=False).clips(3) == [[0, 0, 0, 1, 1, 1, 2, 2]]
    (clip,) = SegmentSampler(8).clips(3, np.random.default_rng(0))
    assert clip == [0, 0, 0, 1, 1, 1, 2, 2]


def test_strided_testing_is_centred_and_training_starts_anywhere_valid():
    # 16 frames at stride 5 span 76 frames; 100 frames leave starts 0..24, centre 12.
    assert StridedSampler(16, 5, train=False).clips(100) == [list(range(12, 12 + 76, 5))]
    starts = {StridedSampler(16, 5).clips(100, np.random.default_rng(s))[0][0] for s in range(400)}
    assert starts == set(range(25))


def test_strided_short_video_clamps_to_last_frame():
    assert StridedSampler(4, 3, train=False).clips(7) == [[0, 3, 6, 6]]
    assert StridedSampler(4, 3).clips(7, np.random.default_rng(1)) == [[0, 3, 6, 6]]


def test_multiclip_spreads_clips_evenly():
    strided = MultiClipSampler(StridedSampler(4, 2, train=False), 3)
    # span 7, 37 frames: starts 0..30, positions 1/6, 1/2, 5/6 -> 5, 15, 25
    assert strided.clips(37) == [[5, 7, 9, 11], [15, 17, 19, 21], [25, 27, 29, 31]]
    segments = MultiClipSampler(SegmentSampler(4, train=False), 2)
    # 16 frames, segments of 4: positions 1/4 and 3/4 -> offsets 1 and 3
    assert segments.clips(16) == [[1, 5, 9, 13], [3, 7, 11, 15]]
    assert MultiClipSampler(SegmentSampler(4), 1).clips(16) == SegmentSampler(4, train=False).clips(16)


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_bad_sizes_raise(bad):
    with pytest.raises(ValueError):
        SegmentSampler(bad)
