import json

import pytest

from archspace.data import synth
from archspace.data.dataset import VideoDataset
from archspace.data.samplers import SegmentSampler
from archspace.data.layouts import detect_layout, read_layout
from archspace.errors import UserError
from data_helpers import write_numbered


def _ssv2(root, shipped_names: bool, in_videos_dir: bool):
    vids = root / "videos" if in_videos_dir else root
    prefix = "something-something-v2-" if shipped_names else ""
    labels = {"Moving something up": "0", "Pushing something from left to right": "1"}
    (root / f"{prefix}labels.json").parent.mkdir(parents=True, exist_ok=True)
    (root / f"{prefix}labels.json").write_text(json.dumps(labels))
    train = [{"id": "11", "label": "moving a cup up", "template": "Moving [something] up", "placeholders": ["a cup"]},
             {"id": "12", "label": "pushing a pen from left to right",
              "template": "Pushing [something] from left to right", "placeholders": ["a pen"]},
             {"id": "13", "label": "moving a box up", "template": "Moving [something] up", "placeholders": ["a box"]}]
    val = [{"id": "21", "label": "pushing x", "template": "Pushing [something] from left to right",
            "placeholders": ["x"]}]
    (root / f"{prefix}train.json").write_text(json.dumps(train))
    (root / f"{prefix}validation.json").write_text(json.dumps(val))
    for vid in ("11", "12", "21"):  # 13 is named but missing
        write_numbered(vids / f"{vid}.webm", 8, "vp9")


@pytest.mark.parametrize("shipped_names,in_videos_dir", [(True, False), (False, True)])
def test_ssv2_reader(tmp_path, shipped_names, in_videos_dir):
    _ssv2(tmp_path, shipped_names, in_videos_dir)
    assert detect_layout(tmp_path) == "ssv2"
    index = read_layout(tmp_path)
    assert index.classes == ["Moving something up", "Pushing something from left to right"]
    assert [(e.id, e.label, e.path.suffix) for e in index.entries("train")] == [("11", 0, ".webm"), ("12", 1, ".webm")]
    assert [(e.id, e.label) for e in index.entries("validation")] == [("21", 1)]
    assert index.missing == {"train": ["13.webm"], "val": []}
    train = VideoDataset(tmp_path, "train", sampler=SegmentSampler(4, train=False))
    assert len(train) == 2 and train.problems.files("missing") == ["13.webm"]
    assert train[1][0].shape == (3, 4, 32, 64) and train[1][1] == 1
    assert len(VideoDataset(tmp_path, "validation")) == 1


def test_ssv2_unknown_template_names_it(tmp_path):
    _ssv2(tmp_path, False, True)
    (tmp_path / "train.json").write_text(json.dumps([{"id": "1", "template": "Eating [something]"}]))
    with pytest.raises(UserError, match="Eating"):
        read_layout(tmp_path)


def _kinetics(root, val_name="validate.csv"):
    rows = {"train.csv": [("abseiling", "aaa", 5, 15, "train"), ("playing guitar", "bbb", 0, 10, "train"),
                          ("abseiling", "ccc", 30, 40, "train")],
            val_name: [("playing guitar", "ddd", 100, 110, "val")]}
    for name, items in rows.items():
        lines = ["label,youtube_id,time_start,time_end,split"] + [f'"{l}",{y},{a},{b},{s}' for l, y, a, b, s in items]
        (root / name).write_text("\n".join(lines) + "\n")
        for label, yid, a, b, split in items:
            if yid != "ccc":  # named but missing
                write_numbered(root / split / label / f"{yid}_{a:06d}_{b:06d}.mp4", 8)


@pytest.mark.parametrize("val_name", ["validate.csv", "val.csv"])
def test_kinetics_reader(tmp_path, val_name):
    _kinetics(tmp_path, val_name)
    assert detect_layout(tmp_path) == "kinetics"
    index = read_layout(tmp_path)
    assert index.classes == ["abseiling", "playing guitar"]
    train = index.entries("train")
    assert [(e.id, e.label) for e in train] == [("aaa_000005_000015", 0), ("bbb_000000_000010", 1)]
    assert train[1].path == tmp_path / "train" / "playing guitar" / "bbb_000000_000010.mp4"
    assert [(e.id, e.label) for e in index.entries("val")] == [("ddd_000100_000110", 1)]
    assert index.missing["train"] == ["ccc_000030_000040.mp4"]


def test_kinetics_csv_without_columns_is_refused(tmp_path):
    (tmp_path / "train.csv").write_text("label,youtube_id\nx,y\n")
    with pytest.raises(UserError, match="time_start"):
        read_layout(tmp_path)


def test_folder_reader_with_mixed_containers_and_validation_split(tmp_path):
    write_numbered(tmp_path / "train" / "b_class" / "v1.mp4", 8)
    write_numbered(tmp_path / "train" / "a_class" / "v2.webm", 8, "vp9")
    write_numbered(tmp_path / "train" / "a_class" / "v3.mp4", 8)
    (tmp_path / "train" / "a_class" / "notes.txt").write_text("ignored")
    write_numbered(tmp_path / "validation" / "b_class" / "v4.mp4", 8)
    assert detect_layout(tmp_path) == "folder"
    index = read_layout(tmp_path)
    assert index.classes == ["a_class", "b_class"]
    assert [(e.path.name, e.label) for e in index.entries("train")] == [("v2.webm", 0), ("v3.mp4", 0), ("v1.mp4", 1)]
    assert [(e.path.name, e.label) for e in index.entries("val")] == [("v4.mp4", 1)]


def test_synth_ssv2_layout_reads_back_with_its_labels(tmp_path):
    synth.generate(tmp_path, layout="ssv2", videos_per_class=1, val_videos_per_class=1, frames=8, size=32,
                   progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.json", "synth.json", "train.json",
                                                          "validation.json", "videos"]
    index = read_layout(tmp_path)
    assert index.layout == "ssv2" and len(index.classes) == 15
    manifest = json.loads((tmp_path / "synth.json").read_text())
    expected = {r["id"]: r["label"] for r in manifest["videos"] if r["split"] == "train"}
    assert {e.id: e.label for e in index.entries("train")} == expected
    assert all(e.path.suffix == ".webm" for e in index.entries("val"))
    assert index.missing == {"train": [], "val": []}


def test_detection_errors_name_the_choices(tmp_path):
    with pytest.raises(UserError, match="--layout ssv2|kinetics|folder"):
        detect_layout(tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        read_layout(tmp_path / "nowhere")
    _ssv2(tmp_path, False, True)
    write_numbered(tmp_path / "train" / "x" / "v.mp4", 8)
    with pytest.raises(UserError, match="more than one layout"):
        detect_layout(tmp_path)
    assert read_layout(tmp_path, "folder").classes == ["x"]
    with pytest.raises(UserError, match="choose from ssv2, kinetics, folder"):
        read_layout(tmp_path, "ucf101")
    with pytest.raises(UserError, match="available: train"):
        read_layout(tmp_path, "folder").entries("val")


def test_ssv2_ids_that_lead_out_of_the_data_folder_are_refused_and_the_rest_train(tmp_path, capsys):
    from archspace.cli import main

    root, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    _ssv2(root, False, True)
    for name in ("secret", "linked", "absolute"):  # readable videos: followed, they would train
        write_numbered(elsewhere / f"{name}.webm", 8, "vp9")
    (root / "videos" / "linked.webm").symlink_to(elsewhere / "linked.webm")
    train = json.loads((root / "train.json").read_text())
    template = train[0]["template"]
    for vid in ("../../elsewhere/secret", "linked", str(elsewhere / "absolute"), "../videos/12"):
        train.append({"id": vid, "template": template})
    (root / "train.json").write_text(json.dumps(train))
    index = read_layout(root)
    assert index.outside == {"train": ["../../elsewhere/secret.webm", "linked.webm", f"{elsewhere}/absolute.webm"],
                             "val": []}
    # A `..` that stays inside is no escape.
    assert [e.id for e in index.entries("train")] == ["11", "12", "../videos/12"]
    dataset = VideoDataset(root, "train", sampler=SegmentSampler(4, train=False))
    assert len(dataset) == 3 and dataset.problems.counts() == {"missing": 1, "outside": 3}
    code = main(["train", "--arch", "x3d_xs", "--set", "depths=[1,1,1,1]", "--data", str(root), "--frames", "4",
                 "--crop", "32", "--epochs", "1", "--batch-size", "2", "--out", str(tmp_path / "run")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "data: 4 file(s) skipped or padded (missing 1, outside 3)" in err
    assert json.loads(out.splitlines()[-1])["epoch"] == 1


def test_kinetics_labels_and_ids_that_lead_out_of_the_data_folder_are_refused(tmp_path):
    root, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    root.mkdir()
    _kinetics(root)
    write_numbered(elsewhere / "train" / "abseiling" / "secret_000005_000015.mp4", 8)
    write_numbered(elsewhere / "x_000000_000010.mp4", 8)
    link = root / "train" / "abseiling" / "link_000000_000010.mp4"
    link.symlink_to(elsewhere / "x_000000_000010.mp4")
    rows = ["../../elsewhere/train/abseiling,secret,5,15,train",  # a label that climbs out
            "abseiling,../../../elsewhere/x,0,10,train",  # an id that climbs out
            f"{elsewhere},x,0,10,train",  # an absolute label
            "abseiling,link,0,10,train"]  # a link to a file elsewhere
    with (root / "train.csv").open("a") as f:
        f.write("\n".join(rows) + "\n")
    index = read_layout(root)
    assert index.outside["train"] == ["train/../../elsewhere/train/abseiling/secret_000005_000015.mp4",
                                      "train/abseiling/../../../elsewhere/x_000000_000010.mp4",
                                      f"train/{elsewhere}/x_000000_000010.mp4",
                                      "train/abseiling/link_000000_000010.mp4"]
    assert [e.id for e in index.entries("train")] == ["aaa_000005_000015", "bbb_000000_000010"]
    assert index.missing["train"] == ["ccc_000030_000040.mp4"]
