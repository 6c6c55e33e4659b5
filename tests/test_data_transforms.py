import numpy as np
import pytest
import torch

from archspace.data.transforms import TestTransform, TrainTransform, normalise, to_tensor


def ramp(t=4, h=40, w=60):
    """Frames whose red channel is the column index, so crops and flips are visible."""
    frames = np.zeros((t, h, w, 3), np.uint8)
    frames[..., 0] = np.arange(w, dtype=np.uint8)
    return frames


def test_train_transform_shape_and_flip_is_off_by_default():
    out = TrainTransform(32, short_side=(40, 40))(ramp(), np.random.default_rng(0))
    assert out.shape == (3, 4, 32, 32) and out.dtype == torch.float32
    # Without flip, red grows left to right in every draw.
    for s in range(20):
        red = TrainTransform(32)(ramp(), np.random.default_rng(s))[0, 0, 0]
        assert bool((red[1:] >= red[:-1]).all())


def test_flip_when_asked_reverses_some_draws():
    reversed_draws = 0
    for s in range(20):
        red = TrainTransform(32, flip=True)(ramp(), np.random.default_rng(s))[0, 0, 0]
        reversed_draws += bool((red[1:] <= red[:-1]).all())
    assert 0 < reversed_draws < 20


def test_three_test_crops_cover_start_centre_end_of_the_long_side():
    views = TestTransform(40, crops=3, mean=(0, 0, 0), std=(1 / 255,) * 3)(ramp())
    assert views.shape == (3, 3, 4, 40, 40)
    # Short side already 40: the red value is the column of the original frame.
    assert [int(v[0, 0, 0, 0]) for v in views] == [0, 10, 20]


def test_normalise_uses_mean_and_std():
    x = to_tensor(np.full((2, 4, 4, 3), 255, np.uint8))
    y = normalise(x, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    assert y.shape == (3, 2, 4, 4) and torch.allclose(y, torch.full_like(y, 2.0))


def test_bad_settings_raise():
    with pytest.raises(ValueError):
        TestTransform(32, crops=2)
    with pytest.raises(ValueError):
        TrainTransform(64, short_side=(32, 40))


def grid(t=2, h=30, w=50):
    """Frames whose red channel is the column and green the row, so a crop shows where it came from."""
    frames = np.zeros((t, h, w, 3), np.uint8)
    frames[..., 0] = np.arange(w, dtype=np.uint8)
    frames[..., 1] = np.arange(h, dtype=np.uint8)[:, None]
    return frames


IDENTITY = dict(mean=(0, 0, 0), std=(1 / 255,) * 3)  # normalise() then gives the raw values (to float rounding)


@pytest.mark.parametrize("h,w", [(30, 50), (50, 30)])
def test_test_crops_of_non_square_frames_are_numpy_slices(h, w):
    frames = grid(h=h, w=w)
    centre = TestTransform(30, crops=1, **IDENTITY)(frames).round()
    three = TestTransform(30, crops=3, **IDENTITY)(frames).round()
    # The long side is 50: crops start at 0, 10 (centre) and 20 along it.
    if w > h:
        expected = [frames[:, :, 0:30], frames[:, :, 10:40], frames[:, :, 20:50]]
    else:
        expected = [frames[:, 0:30], frames[:, 10:40], frames[:, 20:50]]
    as_views = [torch.from_numpy(e[..., :2].astype(np.float32)).permute(3, 0, 1, 2) for e in expected]
    assert torch.equal(centre[0, :2], as_views[1])
    assert all(torch.equal(view[:2], e) for view, e in zip(three, as_views))


def test_train_crops_of_non_square_frames_are_windows_that_reach_every_edge():
    frames = grid(h=30, w=50)
    tops, lefts = set(), set()
    for s in range(200):
        out = TrainTransform(20, short_side=(30, 30), **IDENTITY)(frames, np.random.default_rng(s)).round()
        top, left = int(out[1, 0, 0, 0]), int(out[0, 0, 0, 0])
        window = torch.from_numpy(frames[:, top : top + 20, left : left + 20, :2].astype(np.float32)).permute(3, 0, 1, 2)
        assert torch.equal(out[:2], window)
        tops.add(top)
        lefts.add(left)
    # Every start is drawn from the whole range, both ends included.
    assert tops <= set(range(11)) and lefts <= set(range(31)) and {0, 10} <= tops and {0, 30} <= lefts
