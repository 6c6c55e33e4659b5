"""The `archspace` command as a user runs it: a real process, its output and exit code."""

import json
import subprocess
import sys

import pytest


def run(*args, cwd=None):
    proc = subprocess.run(
        [sys.executable, "-m", "archspace", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_cost_json_gives_the_reference_figures():
    code, out, _ = run("cost", "--arch", "vov3d_m", "--classes", "174", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["params"], data["flops"]) == (3_204_286, 5_107_821_952)
    assert [s["name"] for s in data["stages"]] == ["stem", "stage2", "stage3", "stage4", "stage5", "head"]
    assert isinstance(data["acts"], int) and data["genome"]["classes"] == 174
    code, out, _ = run("cost", "--arch", "x3d_m", "--classes", "174", "--json")
    assert (json.loads(out)["params"], json.loads(out)["flops"]) == (3_331_248, 4_898_188_800)


def test_cost_paper_counter_and_overrides():
    code, out, _ = run(
        "cost", "--arch", "vov3d_m", "--classes", "400", "--crop", "256", "--counter", "paper", "--json"
    )
    assert code == 0 and json.loads(out)["flops"] == 6_425_952_640
    code, out, _ = run("cost", "--arch", "vov3d_m", "--frames", "32", "--classes", "174", "--json")
    assert json.loads(out)["flops"] == 10_214_484_352
    code, out, _ = run(
        "cost", "--arch", "vov3d_m", "--set", "block=dw", "--set", "inter=none", "--set", "modules=4", "--json"
    )
    genome = json.loads(out)["genome"]
    assert code == 0 and (genome["block"], genome["modules"]) == ("dw", 4)


def test_cost_table_for_humans():
    code, out, _ = run("cost", "--arch", "vov3d_l", "--frames", "32")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("vov3d_l: vov3d, d2p1d, 5 modules/T-OSA, depths [1, 2, 5, 3], 32 x 224^2")
    assert [line.split()[0] for line in lines if line and line[0].isalpha()][1:] == [
        "stage",
        "stem",
        "stage2",
        "stage3",
        "stage4",
        "stage5",
        "head",
        "total",
        "fvcore",
    ]


def test_cost_measure_times_a_forward_pass():
    code, out, _ = run(
        "cost", "--arch", "x3d_xs", "--set", "crop=64", "--set", "train_crop=64", "--measure", "--repeats", "2",
        "--json",
    )
    measured = json.loads(out)["measured"]
    assert code == 0 and measured["latency_ms"] > 0 and measured["repeats"] == 2 and measured["device"] == "cpu"


def test_genome_file_round_trip_through_the_cli(tmp_path):
    path = tmp_path / "g.yaml"
    assert run("genome", "--arch", "x3d_m", "--set", "block=d2p1d", "--out", str(path))[0] == 0
    code, out, _ = run("cost", "--genome", str(path), "--classes", "174", "--json")
    assert code == 0 and json.loads(out)["genome"]["block"] == "d2p1d"
    # D(2+1)D replaces each 3x3x3 depthwise (27 C) with 1x3x3 + 3x1x1 depthwise (12 C).
    assert json.loads(out)["params"] == 3_331_248 - 15 * (54 * 3 + 108 * 5 + 216 * 11 + 432 * 7)
    direct = json.loads(run("cost", "--arch", "x3d_m", "--set", "block=d2p1d", "--classes", "174", "--json")[1])
    assert json.loads(out)["flops"] == direct["flops"]


def test_presets_lists_every_preset_with_cost():
    code, out, _ = run("presets", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and list(rows) == ["vov3d_m", "vov3d_l", "vov3d_m_paper", "x3d_xs", "x3d_s", "x3d_m", "x3d_l"]
    assert (rows["x3d_s"]["params"], rows["x3d_s"]["flops"]) == (3_794_322, 2_031_781_712)


@pytest.mark.parametrize(
    "args,message",
    [
        (["cost", "--arch", "vov3d_xxl"], "unknown preset 'vov3d_xxl'; choose from vov3d_m"),
        (["cost", "--arch", "vov3d_m", "--set", "colour=red"], "unknown genome field 'colour'; allowed: block"),
        (["cost", "--arch", "vov3d_m", "--set", "block=conv2d"], "block must be one of bottleneck, r2plus1d"),
        (["cost", "--arch", "vov3d_m", "--set", "modules=many"], "modules must be an integer >= 1; got 'many'"),
        (["cost", "--arch", "vov3d_m", "--set", "block"], "--set takes KEY=VALUE"),
        (["cost", "--arch", "vov3d_m", "--crop", "20"], "crop must be an integer >= 32"),
        (["cost", "--arch", "vov3d_m", "--counter", "thop"], "unknown counter 'thop'; choose from fvcore, paper"),
        (["cost", "--genome", "/no/such/genome.yaml"], "cannot read genome file '/no/such/genome.yaml'"),
        (["cost", "--arch", "vov3d_m", "--frames", "x"], "argument --frames: invalid int value: 'x'"),
        (["cost"], "one of the arguments --arch --genome is required"),
        (["cost", "--arch", "vov3d_m", "--measure", "--device", "tpu"], "unknown device 'tpu'; choose cpu or cuda"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    code, out, err = run(*args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "content,message",
    [
        ("family: [", "malformed genome YAML at line 1"),
        ("family: vov3d\nblock: dw\n", "genome is missing field(s): depths"),
        ("just a string", "a genome must be a mapping"),
        (b"\xff\xfe\x00bad", "is not UTF-8 text"),
    ],
)
def test_malformed_genome_files(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, out, err = run("cost", "--genome", str(path))
    assert code == 2 and err.count("\n") == 1 and message in err and "Traceback" not in err
