import re

import numpy as np
import pytest
import torch

from archspace.data.transforms import TestTransform, TrainTransform, normalise, resize_short_side, to_tensor


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


def pil_resize(frames, h: int, w: int) -> np.ndarray:
    """The judge of resize_short_side: PIL's antialiased bilinear resize of each float
    channel, (T, 3, h, w)."""
    from PIL import Image

    return np.stack([
        np.stack([np.asarray(Image.fromarray(f[:, :, c].astype(np.float32), mode="F").resize((w, h), Image.BILINEAR))
                  for c in range(3)])
        for f in frames
    ])


@pytest.mark.parametrize("h,w,short,size", [(30, 50, 60, (60, 100)), (30, 50, 20, (20, 33)), (50, 30, 24, (40, 24)),
                                            (50, 30, 60, (100, 60)), (40, 40, 24, (24, 24))])
def test_short_side_resize_keeps_the_aspect_and_matches_pil(h, w, short, size):
    frames = np.random.default_rng(0).integers(0, 256, (2, h, w, 3), dtype=np.uint8)
    out = resize_short_side(to_tensor(frames), short)
    assert tuple(out.shape) == (2, 3) + size
    np.testing.assert_allclose(out.numpy(), pil_resize(frames, *size), atol=1e-3)


def test_to_tensor_takes_arrays_and_tensors_and_names_a_bad_shape():
    frames = grid()
    expected = torch.from_numpy(frames.astype(np.float32)).permute(0, 3, 1, 2)
    assert torch.equal(to_tensor(frames), expected) and torch.equal(to_tensor(torch.from_numpy(frames)), expected)
    for shape in [(4, 8, 3), (2, 4, 8, 4)]:  # a frame without time; four channels
        with pytest.raises(ValueError, match=rf"frames must be \(T, H, W, 3\); got shape {re.escape(str(shape))}"):
            to_tensor(np.zeros(shape, np.uint8))


def test_normalise_keeps_float64_precision():
    x = to_tensor(grid()).double()
    expected = (x.numpy() / 255.0 - 0.45) / 0.225
    assert torch.equal(normalise(x), torch.from_numpy(expected.transpose(1, 0, 2, 3).copy()))


def test_train_transform_defaults_to_the_papers_scale_range_and_checks_it():
    assert TrainTransform(224).short_side == (256, 320)  # [8/7, 10/7] x crop
    assert TrainTransform(112).short_side == (128, 160)
    assert TrainTransform(32, short_side=(32, 32)).short_side == (32, 32)  # min == crop is allowed
    for short_side in [(24, 40), (40, 36)]:
        with pytest.raises(ValueError, match=rf"short_side must satisfy crop <= min <= max; got {re.escape(str(short_side))}"):
            TrainTransform(32, short_side=short_side)


def test_train_scale_jitter_draws_both_ends_of_the_range():
    # A column ramp resized to short side s has a column step of 30 / s: 1 at s = 30, 0.5 at 60.
    frames = grid(h=30, w=50)
    steps = set()
    for s in range(40):
        red = TrainTransform(20, short_side=(30, 60), **IDENTITY)(frames, np.random.default_rng(s))[0, 0, 10]
        steps.add(round(float(red[12] - red[8]) / 4, 2))
    assert min(steps) == 0.5 and max(steps) == 1.0


def test_a_flipped_draw_is_the_mirror_of_the_same_draw_unflipped():
    frames = grid(h=30, w=50)
    flipped = 0
    for s in range(20):
        plain = TrainTransform(20, short_side=(30, 40), **IDENTITY)(frames, np.random.default_rng(s))
        maybe = TrainTransform(20, short_side=(30, 40), flip=True, **IDENTITY)(frames, np.random.default_rng(s))
        assert torch.equal(maybe, plain) or torch.equal(maybe, plain.flip(-1))
        flipped += torch.equal(maybe, plain.flip(-1))
    assert 0 < flipped < 20


def test_test_transform_defaults_and_its_errors():
    frames = grid(h=30, w=50)
    one = TestTransform(30, **IDENTITY)(frames).round()  # default: one centre crop, short side = crop
    assert one.shape == (1, 3, 2, 30, 30) and int(one[0, 0, 0, 0, 0]) == 10
    with pytest.raises(ValueError, match=r"crops must be 1 or 3; got 2"):
        TestTransform(32, crops=2)
    with pytest.raises(ValueError, match=r"short_side 24 is smaller than crop 32"):
        TestTransform(32, short_side=24)


def test_three_test_crops_of_a_square_frame_run_along_its_width():
    frames = grid(h=40, w=40)
    views = TestTransform(30, short_side=40, crops=3, **IDENTITY)(frames).round()
    expected = [frames[:, 5:35, 0:30], frames[:, 5:35, 5:35], frames[:, 5:35, 10:40]]
    for view, e in zip(views, expected):
        assert torch.equal(view[:2], torch.from_numpy(e[..., :2].astype(np.float32)).permute(3, 0, 1, 2))
