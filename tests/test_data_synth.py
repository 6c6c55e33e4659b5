import json

import numpy as np
import pytest

from archspace.data import synth
from archspace.data.decode import read_frames
from archspace.data.layouts import read_layout
from archspace.errors import UserError

SMALL = dict(videos_per_class=1, val_videos_per_class=1, frames=8, size=32, progress=False)


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    a = synth.generate(root / "a", seed=3, **SMALL)
    b = synth.generate(root / "b", seed=3, workers=2, **SMALL)  # two processes: the same files
    c = synth.generate(root / "c", seed=4, **SMALL)
    return root, a, b, c


def test_same_seed_gives_identical_annotations_files_and_frames(twin):
    root, a, b, _ = twin
    assert a["videos"] == {"train": 15, "val": 15} and a["written"] == 30
    assert (root / "a/synth.json").read_bytes() == (root / "b/synth.json").read_bytes()
    records = json.loads((root / "a/synth.json").read_text())["videos"]
    assert len(records) == 30
    for r in records:
        fa, fb = root / "a" / r["file"], root / "b" / r["file"]
        assert fa.read_bytes() == fb.read_bytes()
        frames_a, _ = read_frames(fa, range(8))
        frames_b, _ = read_frames(fb, range(8))
        assert np.array_equal(frames_a, frames_b)


def test_workers_must_be_a_positive_integer(tmp_path):
    with pytest.raises(UserError, match="workers must be an integer >= 1; got 0"):
        synth.generate(tmp_path / "x", workers=0, **SMALL)
    assert not (tmp_path / "x").exists()


def test_another_seed_gives_other_videos(twin):
    root, *_ = twin
    assert (root / "a/synth.json").read_bytes() != (root / "c/synth.json").read_bytes()
    rel = json.loads((root / "a/synth.json").read_text())["videos"][0]["file"]
    assert not np.array_equal(read_frames(root / "a" / rel, [0])[0], read_frames(root / "c" / rel, [0])[0])


def test_folder_output_is_read_by_the_folder_reader(twin):
    root, *_ = twin
    index = read_layout(root / "a")
    assert index.layout == "folder"
    assert index.classes == list(synth.CLASS_NAMES)
    manifest = json.loads((root / "a/synth.json").read_text())
    expected = sorted((r["split"], r["id"], r["label"]) for r in manifest["videos"])
    got = sorted((s, e.id, e.label) for s, es in index.splits.items() for e in es)
    assert got == expected
    assert [c["name"] for c in manifest["classes"]] == list(synth.CLASS_NAMES)


def test_classes_are_mostly_pairs_and_documented():
    assert len(synth.CLASSES) == 15
    assert len(synth.PAIRED_CLASSES) == 12
    by_name = {c.name: c for c in synth.CLASSES}
    for c in synth.CLASSES:
        assert c.name in synth.__doc__ and "[something]" in c.template and c.description
        if c.pair:
            assert by_name[c.pair].pair == c.name and by_name[c.pair].pair_kind == c.pair_kind


@pytest.mark.parametrize("forward,backward", [("moving_right", "moving_left"), ("approaching", "receding"),
                                              ("rotating_clockwise", "rotating_counterclockwise"),
                                              ("appearing", "disappearing")])
def test_order_pairs_are_the_same_frames_played_backwards(forward, backward):
    a, scene_a = synth.render(forward, np.random.default_rng(11), 12, 32)
    b, scene_b = synth.render(backward, np.random.default_rng(11), 12, 32)
    assert scene_a == scene_b
    assert np.array_equal(a[::-1], b)
    assert not np.array_equal(a, b)  # and they do move


def test_appearance_is_drawn_independently_of_the_class():
    scenes = [synth.render(name, np.random.default_rng(5), 4, 16)[1] for name in synth.CLASS_NAMES]
    assert all(s == scenes[0] for s in scenes)


def test_rerun_writes_only_what_is_missing(tmp_path):
    out = tmp_path / "s"
    synth.generate(out, seed=1, **SMALL)
    victim = next((out / "train" / "orbiting").iterdir())
    original = victim.read_bytes()
    victim.unlink()
    keep = next((out / "val" / "jittering").iterdir())
    mtime = keep.stat().st_mtime_ns
    again = synth.generate(out, seed=1, **SMALL)
    assert (again["written"], again["skipped"]) == (1, 29)
    assert victim.read_bytes() == original and keep.stat().st_mtime_ns == mtime


def test_other_settings_in_the_same_folder_are_refused(tmp_path):
    synth.generate(tmp_path, seed=1, **SMALL)
    with pytest.raises(UserError, match="seed"):
        synth.generate(tmp_path, seed=2, **SMALL)


def test_bad_settings_name_the_allowed_values(tmp_path):
    with pytest.raises(UserError, match="h264, vp9"):
        synth.generate(tmp_path, codec="mpeg2", **SMALL)
    with pytest.raises(UserError, match="vp9"):
        synth.generate(tmp_path, layout="ssv2", codec="h264", **SMALL)
    with pytest.raises(UserError, match="even"):
        synth.generate(tmp_path, **{**SMALL, "size": 33})


def test_easy_scene_has_the_same_motion_with_a_larger_object_and_no_clutter(tmp_path):
    standard, scene = synth.render("moving_right", np.random.default_rng(2), 6, 32)
    easy, easy_scene = synth.render("moving_right", np.random.default_rng(2), 6, 32, scene_kind="easy")
    assert easy_scene["radius"] == pytest.approx(scene["radius"] * 1.4, abs=2e-4) and easy_scene["distractors"] == 0
    assert {k: v for k, v in easy_scene.items() if k not in ("radius", "distractors")} == \
        {k: v for k, v in scene.items() if k not in ("radius", "distractors")}
    assert not np.array_equal(standard, easy)
    synth.generate(tmp_path / "easy", seed=1, scene="easy", **SMALL)
    settings = json.loads((tmp_path / "easy/synth.json").read_text())["settings"]
    assert settings["scene"] == "easy"
    synth.generate(tmp_path / "std", seed=1, **SMALL)
    assert "scene" not in json.loads((tmp_path / "std/synth.json").read_text())["settings"]
    with pytest.raises(UserError, match="scene"):
        synth.generate(tmp_path / "easy", seed=1, **SMALL)  # the folder holds the easy variant
    with pytest.raises(UserError, match="standard, easy"):
        synth.generate(tmp_path / "x", seed=1, scene="hard", **SMALL)
