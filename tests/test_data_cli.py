import json

import pytest

from archspace.cli import main
from data_helpers import make_bad_files


def test_synth_then_info_json(tmp_path, capsys):
    out = tmp_path / "bench"
    args = ["data", "synth", "--out", str(out), "--videos-per-class", "1", "--val-videos-per-class", "1",
            "--frames", "8", "--size", "32", "--seed", "2", "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["written"] == 30 and summary["codec"] == "h264"
    assert main(args) == 0  # a re-run writes nothing new
    assert json.loads(capsys.readouterr().out)["skipped"] == 30

    video = next((out / "train" / "orbiting").iterdir())
    for path in make_bad_files(tmp_path / "scratch", video).values():
        path.rename(out / "val" / "orbiting" / path.name)
    assert main(["data", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["layout"] == "folder" and info["num_classes"] == 15
    assert info["videos"] == {"train": 15, "val": 18} and info["readable"] == {"train": 15, "val": 15}
    assert info["unreadable"] == ["empty.mp4", "notavideo.mp4", "truncated.mp4"]
    assert info["frames"] == {"min": 8, "mean": 8.0, "max": 8} and info["sizes"] == {"32x32": 30}

    assert main(["data", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "unreadable 3:" in text and "truncated.mp4" in text


def test_cache_verb(tmp_path, capsys):
    out = tmp_path / "bench"
    main(["data", "synth", "--out", str(out), "--videos-per-class", "1", "--frames", "8", "--size", "32", "--json"])
    capsys.readouterr()
    assert main(["data", "cache", str(out), "--split", "val", "--frames", "4", "--size", "16", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["shape"] == [15, 4, 16, 16, 3] and result["unreadable"] == []


@pytest.mark.parametrize("argv,needle", [
    (["data", "info", "{tmp}/nowhere"], "does not exist"),
    (["data", "info", "{tmp}"], "pass --layout ssv2|kinetics|folder"),
    (["data", "synth", "--out", "{tmp}/x", "--size", "33"], "even integer"),
    (["data", "synth", "--out", "{tmp}/x", "--layout", "ssv2", "--codec", "h264"], "must be vp9"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, needle):
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("verb", ["synth", "info", "cache"])
def test_help_has_an_example(verb, capsys):
    assert main(["data", verb, "--help"]) == 0
    assert "example:" in capsys.readouterr().out


def test_unknown_codec_is_refused_by_the_parser(tmp_path, capsys):
    assert main(["data", "synth", "--out", str(tmp_path), "--codec", "mpeg2"]) == 2
    assert "h264" in capsys.readouterr().err
