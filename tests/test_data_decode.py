import numpy as np
import pytest

from archspace.data.decode import UnreadableVideo, probe, read_frames
from data_helpers import frame_numbers, make_bad_files, write_numbered


@pytest.mark.parametrize("codec,suffix", [("h264", ".mp4"), ("vp9", ".webm")])
def test_probe_counts_frames_and_size(tmp_path, codec, suffix):
    path = write_numbered(tmp_path / f"v{suffix}", 20, codec)
    info = probe(path)
    assert (info.frames, info.width, info.height) == (20, 64, 32)
    assert info.fps == pytest.approx(12.0)


@pytest.mark.parametrize("codec,suffix", [("h264", ".mp4"), ("vp9", ".webm")])
def test_read_frames_returns_exactly_the_requested_frames(tmp_path, codec, suffix):
    path = write_numbered(tmp_path / f"v{suffix}", 24, codec)
    frames, complete = read_frames(path, [5, 0, 23, 5, 11])
    assert complete
    assert frames.shape == (5, 32, 64, 3) and frames.dtype == np.uint8
    assert frame_numbers(frames) == [5, 0, 23, 5, 11]


def test_read_frames_after_a_seek_lands_on_the_right_frames(tmp_path):
    # Keyframes every 8 frames, first wanted frame past the seek threshold.
    path = write_numbered(tmp_path / "long.mp4", 96, "h264", gop=8)
    frames, complete = read_frames(path, [70, 41, 95, 60])
    assert complete
    assert frame_numbers(frames) == [70, 41, 95, 60]


def test_past_the_end_is_padded_with_the_last_frame(tmp_path):
    path = write_numbered(tmp_path / "short.mp4", 6)
    frames, complete = read_frames(path, [2, 5, 7, 9])
    assert not complete
    assert frame_numbers(frames) == [2, 5, 5, 5]


def test_each_bad_file_raises_unreadable_with_its_name(tmp_path):
    good = write_numbered(tmp_path / "good.mp4", 16)
    bad = make_bad_files(tmp_path / "bad", good)
    reasons = {}
    for kind, path in [*bad.items(), ("missing", tmp_path / "nope.mp4")]:
        with pytest.raises(UnreadableVideo) as info:
            read_frames(path, [0, 1])
        assert info.value.path.name == path.name
        reasons[kind] = info.value.reason
    assert reasons["missing"] == "missing file"
    assert reasons["empty"] == "empty file (0 bytes)"
    assert reasons["text"].startswith("not a readable video")
    assert reasons["truncated"]  # PyAV's mp4 keeps its index at the end: cut, it does not open


def test_truncated_file_with_index_up_front_decodes_its_head_and_pads(tmp_path):
    # With the index (moov) first, a cut file still opens: the frames before the cut
    # decode, the rest are padded with the last one that did.
    import av

    from data_helpers import numbered_frames

    path = tmp_path / "faststart.mp4"
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        stream.options = {"g": "1"}  # every frame a keyframe: each decodes on its own
        for frame in numbered_frames(40):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 4])
    assert probe(path).frames == 40  # the header still claims all of them
    frames, complete = read_frames(path, [0, 5, 39])
    numbers = frame_numbers(frames)
    assert not complete
    assert numbers[:2] == [0, 5] and 5 < numbers[2] < 39
