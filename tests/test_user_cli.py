"""The command as a new user on a shared server meets it (issue 12): file modes, wrong
paths, closed pipes, messages that point at the fix, per-layer costs, the cache folder."""

import json
import logging
import os
import stat
import subprocess
import sys

import pytest

import archspace
from archspace.io import write_bytes_atomic, write_text_atomic


# `archspace` as run() starts it: a process forked from one that imported torch once, with
# this process's arguments, folder, umask, environment and streams (tests/cli_forkserver.py;
# conftest.py's archspace_training_command). tests/test_cli.py runs the real entry point.
ARCHSPACE = [sys.executable, "-m", "archspace"]


@pytest.fixture(autouse=True)
def _forked_archspace(archspace_training_command, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ARCHSPACE", archspace_training_command)


def run(*args, umask=None, cwd=None, env=None):
    proc = subprocess.run([*ARCHSPACE, *map(str, args)], capture_output=True, text=True,
                          timeout=300, umask=-1 if umask is None else umask, cwd=cwd, env=env)
    return proc.returncode, proc.stdout, proc.stderr


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    """Set the process umask for one test, and put the old one back."""
    old = os.umask(0o022)
    yield lambda value: os.umask(value)
    os.umask(old)


# ----------------------------------------------------------------------------- 1. file modes


@pytest.mark.parametrize("mask,expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_get_the_mode_open_gives(tmp_path, umask, mask, expected):
    umask(mask)
    write_text_atomic(tmp_path / "a.txt", "x")
    with open(tmp_path / "plain.txt", "w") as f:  # the judge: what open() gives here
        f.write("x")
    assert mode(tmp_path / "a.txt") == mode(tmp_path / "plain.txt") == expected
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_replacing_a_file_keeps_its_mode_as_open_does(tmp_path, umask):
    path = tmp_path / "shared.json"
    path.write_text("{}")
    os.chmod(path, 0o640)
    write_bytes_atomic(path, b"[]")
    assert mode(path) == 0o640 and path.read_bytes() == b"[]"


@pytest.mark.parametrize("mask,expected", [(0o022, 0o644), (0o077, 0o600)])
def test_cli_genome_file_is_readable_by_others_under_umask_022(tmp_path, mask, expected):
    code, _, err = run("genome", "--arch", "x3d_m", "--out", tmp_path / "g.yaml", umask=mask)
    assert code == 0, err
    assert mode(tmp_path / "g.yaml") == expected


# ----------------------------------------------------------------------------- 2. wrong paths, pipes


def test_output_path_that_is_a_folder_or_a_file(tmp_path):
    (tmp_path / "a_file").write_text("keep me")
    (tmp_path / "a_dir").mkdir()
    code, out, err = run("genome", "--arch", "x3d_m", "--out", tmp_path / "a_dir")
    assert (code, out) == (2, "") and err == f"archspace: error: {str(tmp_path / 'a_dir')!r} is a folder; give a file name to write\n"
    code, _, err = run("data", "synth", "--out", tmp_path / "a_file", "--videos-per-class", 1)
    assert code == 2 and err.count("\n") == 1 and "is a file, not a folder" in err, err
    code, _, err = run("train", "--arch", "x3d_xs", "--data", tmp_path, "--out", tmp_path / "a_file")
    assert code == 2 and err == f"archspace: error: --out {tmp_path / 'a_file'} is a file; give a folder for the run\n"
    assert (tmp_path / "a_file").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_dir", "a_file"]  # no temp files left


def test_a_closed_pipe_ends_quietly(tmp_path):
    # `archspace cost ... | head -1`: the reader is gone before the table is written.
    proc = subprocess.Popen([sys.executable, "-m", "archspace", "cost", "--arch", "x3d_m", "--layers"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait() == 141 and err == b""


def test_version():
    code, out, _ = run("--version")
    assert code == 0 and out == f"archspace {archspace.__version__}\n"


# ----------------------------------------------------------------------------- 3. messages


def test_data_given_as_a_file_says_it_is_a_file(tmp_path):
    (tmp_path / "some_file.txt").write_text("x")
    code, _, err = run("data", "info", tmp_path / "some_file.txt")
    assert code == 2 and err == (f"archspace: error: data folder {tmp_path / 'some_file.txt'} is a file; "
                                 "give the folder that holds the data set\n")


def test_paper_counter_crop_below_train_crop_points_at_train_crop():
    code, _, err = run("cost", "--arch", "x3d_m", "--counter", "paper", "--crop", "160")
    assert code == 2 and err.count("\n") == 1 and "--train-crop 160" in err, err
    code, out, _ = run("cost", "--arch", "x3d_m", "--counter", "paper", "--crop", "160", "--train-crop", "160", "--json")
    assert code == 0 and json.loads(out)["flops"] > 0
    # 161..191 map to a 6x6 final map: the largest train crop that fits is 6 * 32
    code, _, err = run("cost", "--arch", "x3d_m", "--counter", "paper", "--crop", "176")
    assert code == 2 and "--train-crop 192" in err


# ----------------------------------------------------------------------------- per-layer costs


def test_layer_costs_equal_fvcore_per_module_and_sum_to_the_total():
    import torch
    from fvcore.nn import FlopCountAnalysis

    from archspace.cost import count, count_layers

    for name in ("x3d_xs", "vov3d_m"):
        genome = archspace.preset(name).replace(frames=4, crop=64, train_crop=64, classes=10)
        rows = count_layers(genome)
        total = count(genome)
        assert (sum(r.params for r in rows), sum(r.flops for r in rows), sum(r.acts for r in rows)) == (
            total.params, total.flops, total.acts)
        model = archspace.build_model(genome).eval()
        modules = dict(model.named_modules())
        shapes = {}

        def keep_shape(name):
            def hook(module, inputs, output):
                shapes[name] = tuple(output.shape[1:])
            return hook

        hooks = [modules[row.name].register_forward_hook(keep_shape(row.name)) for row in rows]
        with torch.no_grad():
            model(torch.randn(1, 3, 4, 64, 64))
        for h in hooks:
            h.remove()
        analysis = FlopCountAnalysis(model, torch.randn(1, 3, 4, 64, 64))
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        by_module = analysis.by_module()
        for row in rows:
            assert by_module[row.name] == row.flops, row
            assert sum(p.numel() for p in modules[row.name].parameters()) == row.params, row
            assert shapes[row.name] == row.output, row


def test_cost_layers_table_and_json():
    code, out, _ = run("cost", "--arch", "x3d_xs", "--layers")
    lines = out.splitlines()
    assert code == 0 and lines[1].split() == ["layer", "output", "(C", "x", "T", "x", "H", "x", "W)", "params", "FLOPs", "acts"]
    assert lines[3].split()[:8] == ["stem.conv_xy", "24", "x", "4", "x", "80", "x", "80"]
    assert lines[-1].split() == ["total", "3,794,322", "626,453,312", "11,218,968"]
    code, out, _ = run("cost", "--arch", "x3d_xs", "--layers", "--json")
    data = json.loads(out)
    assert sum(r["flops"] for r in data["layers"]) == data["flops"] == 626_453_312


def test_measured_memory_is_in_mib_in_text_and_json():
    code, out, _ = run("cost", "--arch", "x3d_xs", "--set", "crop=32", "--set", "train_crop=32", "--measure",
                       "--repeats", "1", "--json")
    assert code == 0 and "peak_memory_mib" in json.loads(out)["measured"]


# ----------------------------------------------------------------------------- 5. log floods


def test_problem_warnings_name_a_few_files_per_kind_and_count_all(tmp_path, caplog):
    from archspace.data.problems import EXAMPLES, ProblemLog

    log = ProblemLog()
    log.share(tmp_path / "journal.jsonl")
    with caplog.at_level(logging.WARNING, logger="archspace.data"):
        for i in range(105):
            log.record("padded", f"short{i:03d}.mp4", "2 frames, fewer than the clip's 8; frames repeated")
        log.record("unreadable", "bad.mp4", "not a readable video")
    messages = [r.getMessage() for r in caplog.records]
    assert messages[:EXAMPLES] == [f"padded short{i:03d}.mp4: 2 frames, fewer than the clip's 8; frames repeated"
                                   for i in range(EXAMPLES)]
    assert messages[EXAMPLES:] == [f"padded: more files than these {EXAMPLES}; counted, not named one by one",
                                   "skipped bad.mp4: not a readable video"]
    assert log.counts() == {"padded": 105, "unreadable": 1}
    assert len((tmp_path / "journal.jsonl").read_text().splitlines()) == 106


# ----------------------------------------------------------------------------- data info, cache


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from archspace.data.synth import generate

    root = tmp_path_factory.mktemp("tiny")
    generate(root, videos_per_class=1, val_videos_per_class=1, frames=4, size=16, progress=False)
    return root


def test_data_info_lists_every_class_on_request(tiny_data):
    code, out, _ = run("data", "info", tiny_data)
    assert code == 0 and "... (--classes lists all)" in out
    code, out, _ = run("data", "info", tiny_data, "--classes")
    listed = [line.split() for line in out.splitlines() if line.startswith("  ")]
    assert code == 0 and len(listed) == 15 and listed[0] == ["0", "appearing"] and listed[-1] == ["14", "staying_still"]


def test_an_empty_class_folder_is_reported_not_made_a_class(tiny_data, tmp_path):
    import shutil

    from archspace.data.layouts import read_layout

    root = tmp_path / "data"
    shutil.copytree(tiny_data, root)
    (root / "train" / "zz_empty").mkdir()
    index = read_layout(root)
    assert len(index.classes) == 15 and "zz_empty" not in index.classes and index.empty_classes == ["zz_empty"]
    code, out, err = run("data", "info", root)
    assert code == 0 and "empty class folders (left out): zz_empty" in out
    assert "class folder(s) with no video, left out: zz_empty" in err


def test_cache_list_and_clear(tiny_data, tmp_path):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(tiny_data, root)
    assert run("data", "cache", root, "--frames", 2, "--size", 16)[0] == 0
    code, out, _ = run("cache", "list", root, "--json")
    listing = json.loads(out)
    cache = root / ".archspace-cache"
    on_disk = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file())
    assert code == 0 and listing["bytes"] == on_disk > 15 * 2 * 16 * 16 * 3
    assert [e["what"] for e in listing["entries"]] == ["clip cache of a training split"]
    code, out, _ = run("cache", "list", root)
    assert code == 0 and out.splitlines()[-1] == f"{cache}: 1 entries, {on_disk / 2**20:,.1f} MiB"
    code, out, _ = run("cache", "clear", root)
    assert code == 0 and out.startswith(f"removed {cache}") and not cache.exists() and (root / "train").is_dir()
    # the default folder follows $ARCHSPACE_CACHE
    env = dict(os.environ, ARCHSPACE_CACHE=str(tmp_path / "elsewhere"))
    (tmp_path / "elsewhere" / "references").mkdir(parents=True)
    (tmp_path / "elsewhere" / "references" / "r.json").write_text("{}")
    code, out, _ = run("cache", "list", env=env)
    assert code == 0 and "references" in out and "proxy results of the reference presets" in out
    assert run("cache", "clear", env=env)[0] == 0 and not (tmp_path / "elsewhere").exists()
