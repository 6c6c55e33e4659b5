"""archspace.analysis: Pareto ranks and fronts, hypervolume, EDFs against hand-computed
answers; the trials-table checks; `archspace plot` / `compare` files and errors."""

import doctest
import importlib
import json
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from archspace.analysis import (
    complexity_weights,
    edf,
    grouped_edfs,
    hypervolume,
    hypervolume_history,
    pareto_front,
    pareto_rank,
)
from archspace.analysis.report import compare_data, run_data
from archspace.cli import main
from archspace.errors import UserError
from report_helpers import TRIALS, XSS, make_run

ROOT = Path(__file__).resolve().parents[1]
ACC_GFLOPS = {"accuracy": "max", "gflops": "min"}


# ----------------------------------------------------------------------------- Pareto ranks and fronts


def test_ranks_with_ties_and_duplicates():
    df = pd.DataFrame({"accuracy": [0.5, 0.5, 0.4, 0.6, 0.6, 0.5],
                       "gflops": [1.0, 1.0, 1.0, 2.0, 2.0, 2.0]})
    # equal rows do not dominate each other; (0.4, 1) and (0.5, 2) tie once and lose once
    assert pareto_rank(df, ACC_GFLOPS).tolist() == [0, 0, 1, 0, 0, 1]
    assert pareto_front(df, ACC_GFLOPS).index.tolist() == [0, 1, 3, 4]


def test_ranks_with_three_objectives_and_mixed_directions():
    df = pd.DataFrame({"accuracy": [0.5, 0.5, 0.4, 0.3, 0.6],
                       "gflops": [1.0, 2.0, 2.0, 3.0, 5.0],
                       "params_m": [3.0, 2.0, 3.0, 4.0, 5.0]})
    three = {"accuracy": "max", "gflops": "min", "params_m": "min"}
    assert pareto_rank(df, three).tolist() == [0, 0, 1, 2, 0]
    # two objectives: the params advantage of row 1 no longer counts
    assert pareto_rank(df, ACC_GFLOPS).tolist() == [0, 1, 2, 3, 0]
    # every direction flipped: the worst rows lead; C (0.4, 2, 3) now beats A and B, which tie
    flipped = {"accuracy": "min", "gflops": "max", "params_m": "max"}
    assert pareto_rank(df, flipped).tolist() == [2, 2, 1, 0, 0]
    # the front comes sorted by the first cost objective, whatever the table order
    assert pareto_front(df.iloc[::-1], three)["gflops"].tolist() == [1.0, 2.0, 5.0]


def test_missing_values_get_no_rank_and_bad_objectives_are_named():
    df = pd.DataFrame({"accuracy": [0.5, None, 0.1], "gflops": [1.0, 0.5, 2.0]}, index=[10, 11, 12])
    ranks = pareto_rank(df, ACC_GFLOPS)
    assert ranks.index.tolist() == [10, 11, 12] and ranks[10] == 0 and np.isnan(ranks[11]) and ranks[12] == 1
    with pytest.raises(UserError, match="'latency_ms' is not a column"):
        pareto_rank(df, {"accuracy": "max", "latency_ms": "min"})
    with pytest.raises(UserError, match="must be max or min; got 'up'"):
        pareto_front(df, {"accuracy": "up"})


# ----------------------------------------------------------------------------- hypervolume


def test_hypervolume_two_objectives_by_hand():
    df = pd.DataFrame({"accuracy": [0.5, 0.6, 0.3, 0.4, 0.9], "gflops": [1.0, 2.0, 0.5, 3.0, 5.0]})
    # rectangles from the reference (accuracy 0, 4 GFLOPs): 0.5..1 at 0.3, 1..2 at 0.5, 2..4 at 0.6;
    # (0.4, 3) is dominated and (0.9, 5) lies beyond the reference: both add nothing
    assert hypervolume(df, ACC_GFLOPS, {"accuracy": 0.0, "gflops": 4.0}) == pytest.approx(0.15 + 0.5 + 1.2)
    assert hypervolume(df, ACC_GFLOPS, [0.0, 4.0]) == pytest.approx(1.85)
    assert hypervolume(df.iloc[4:], ACC_GFLOPS, [0.0, 4.0]) == 0.0
    with pytest.raises(UserError, match="no value for gflops"):
        hypervolume(df, ACC_GFLOPS, {"accuracy": 0.0})


def test_hypervolume_three_objectives_by_hand():
    three = {"accuracy": "max", "gflops": "min", "params_m": "min"}
    df = pd.DataFrame({"accuracy": [0.5, 0.25], "gflops": [1.0, 2.0], "params_m": [2.0, 1.0]})
    ref = [0.0, 3.0, 4.0]
    # boxes 0.5 x 2 x 2 = 2 and 0.25 x 1 x 3 = 0.75, overlapping in 0.25 x 1 x 2 = 0.5
    assert hypervolume(df.iloc[:1], three, ref) == pytest.approx(2.0)
    assert hypervolume(df, three, ref) == pytest.approx(2.25)


def test_hypervolume_history_follows_trial_order():
    df = pd.DataFrame({"trial": [3, 1, 2], "accuracy": [0.6, 0.3, 0.5], "gflops": [2.0, 0.5, 1.0]})
    history = hypervolume_history(df, ACC_GFLOPS, [0.0, 4.0])
    assert history["trial"].tolist() == [1, 2, 3]
    assert history["hypervolume"].tolist() == pytest.approx([1.05, 0.15 + 1.5, 1.85])


# ----------------------------------------------------------------------------- EDFs


def test_normalised_edf_differs_from_plain_by_hand():
    errors = [0.1, 0.2, 0.3, 0.4]
    costs = [1.0, 1.5, 2.0, 9.0]  # three cheap models (bin [1, 5)), one costly (bin [5, 9])
    weights = complexity_weights(costs, bins=2)
    assert weights.tolist() == pytest.approx([1 / 6, 1 / 6, 1 / 6, 1 / 2])
    xs, plain = edf(errors)
    assert xs.tolist() == errors and plain.tolist() == [0.25, 0.5, 0.75, 1.0]
    _, normalised = edf(errors, weights)
    assert normalised.tolist() == pytest.approx([1 / 6, 2 / 6, 3 / 6, 1.0])  # F(0.3): 0.5, not 0.75


def test_complexity_weights_keep_models_strictly_inside_the_range():
    assert complexity_weights([1.0, 2.0, 3.0, 4.0], bins=3, range=(1.0, 4.0)).tolist() == [0.0, 0.5, 0.5, 0.0]
    # with 40 bins most are empty: the filled ones share the weight, which sums to 1
    weights = complexity_weights([0.0, 0.1, 10.0], bins=40)
    assert weights.tolist() == pytest.approx([0.25, 0.25, 0.5]) and weights.sum() == pytest.approx(1.0)
    assert complexity_weights([np.nan, 1.0, 3.0], bins=40).tolist() == [0.0, 0.5, 0.5]
    with pytest.raises(UserError, match="low < high"):
        complexity_weights([1.0], range=(2.0, 1.0))


def test_grouped_edfs_share_a_grid_and_band_the_estimate():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"block": ["dw"] * 30 + ["d2p1d"] * 30,
                       "error": np.concatenate([rng.uniform(0.5, 0.8, 30), rng.uniform(0.6, 0.9, 30)]),
                       "gflops": np.concatenate([rng.uniform(1, 3, 30), rng.uniform(2, 8, 30)])})
    plain = grouped_edfs(df, "block", samples=100)
    normalised = grouped_edfs(df, "block", cost="gflops", samples=100)
    assert [g["value"] for g in plain] == ["d2p1d", "dw"] and [g["n"] for g in plain] == [30, 30]
    for g in plain + normalised:
        assert len(g["x"]) == 60 and g["y"][-1] == pytest.approx(1.0)
        assert np.all(g["low"] <= g["y"] + 1e-12) and np.all(g["y"] <= g["high"] + 1e-12)
        assert np.all(np.diff(g["y"]) >= 0)
    dw = plain[1]
    assert dw["y"][np.searchsorted(dw["x"], 0.8) - 1] == pytest.approx(1.0)  # every dw error is below 0.8
    assert any(not np.allclose(a["y"], b["y"]) for a, b in zip(plain, normalised))
    again = grouped_edfs(df, "block", samples=100)
    assert np.array_equal(again[0]["low"], plain[0]["low"])  # seeded


@pytest.mark.parametrize("module", ["pareto", "edf", "trials"])
def test_docstring_examples_run(module):
    # `archspace.analysis.edf` the attribute is the function: import the module by name
    result = doctest.testmod(importlib.import_module(f"archspace.analysis.{module}"),
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# ----------------------------------------------------------------------------- the report's data


def test_report_front_is_the_exported_front(tmp_path):
    run = make_run(tmp_path / "run")
    data = run_data(run, bootstrap=20)
    front_trials = [data["rows"][i]["trial"] for i in data["run_front"]]
    assert main(["export", str(run), "--front", "--out", str(tmp_path / "chosen")]) == 0
    exported = sorted(int(p.stem.split("-")[1]) for p in (tmp_path / "chosen").glob("trial-*.yaml"))
    assert sorted(front_trials) == exported
    # the pruned trial 1 (0.45 at 2 epochs) and the reused row 5 never join the front
    assert 1 not in front_trials and 5 not in front_trials and 3 in front_trials
    assert all(data["rows"][i]["state"] == "complete" for i in data["fronts"]["gflops"])


def test_report_data_counts_states_and_keeps_genomes(tmp_path):
    data = run_data(make_run(tmp_path / "run"), bootstrap=20)
    states = [r["state"] for r in data["rows"] if not r["reference"]]
    assert data["meta"]["counts"] == {"complete": states.count("complete"), "pruned": 2, "failed": 1,
                                      "references": 2, "reused": 1}
    assert [r["label"] for r in data["rows"] if r["reference"]] == ["VoV3D-M", "X3D-M"]
    row3 = next(r for r in data["rows"] if r["trial"] == 3)
    assert row3["knobs"]["block"] == XSS and "inner_widths: [56, 112, 224, 448]" in row3["yaml"]
    # EDFs per knob with a few values; hypervolume history over every searched trial number
    assert [e["knob"] for e in data["edfs"]] == ["block", "width", "depths"]
    assert data["hypervolume"]["trial"] == list(range(8))


def test_latency_gets_a_figure_where_the_run_measured_it(tmp_path):
    run = make_run(tmp_path / "run")
    assert run_data(run, bootstrap=0)["costs"] == ["gflops", "params_m"]
    table = pd.read_parquet(run / "trials.parquet")
    table["latency_ms"] = 2.0 * table["gflops"]
    table.to_parquet(run / "trials.parquet")
    data = run_data(run, x="latency_ms", bootstrap=0)
    assert data["costs"] == ["latency_ms", "gflops", "params_m"] and data["edfs"][0]["cost"] == "latency_ms"
    assert data["fronts"]["latency_ms"] == data["fronts"]["gflops"]  # latency proportional to GFLOPs here


def test_compare_puts_runs_on_one_reference_point(tmp_path):
    a = make_run(tmp_path / "a", name="vov3d")
    worse = [(t, s, b, w, d, [x / 2 for x in acc], r) for t, s, b, w, d, acc, r in TRIALS]
    b = make_run(tmp_path / "b", name="x3d", trials=worse)
    data = compare_data([a, b], bootstrap=20)
    first, second = (run["hypervolume"] for run in data["runs"])
    assert first["reference"] == second["reference"]
    assert first["final"] == pytest.approx(2 * second["final"])  # every accuracy halved
    assert [g["value"] for g in data["edf_runs"]["plain"]] == ["vov3d", "x3d"]


# ----------------------------------------------------------------------------- the command line


def test_plot_writes_one_offline_file_with_plotly_and_data_once(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    assert main(["plot", str(run)]) == 0
    path = run / "report.html"
    assert capsys.readouterr().out.strip() == str(path)
    text = path.read_text()
    plotly_js = get_plotlyjs()
    assert text.count(plotly_js) == 1 and text.count(plotly_js[:200]) == 1
    rest = len(text) - len(plotly_js)
    assert rest < 80_000, rest  # the data and script, whatever the number of figures
    assert text.count("RuntimeError: out of memory") == 1  # each trial's data once
    assert "http://" not in text.replace(plotly_js, "") and "https://" not in text.replace(plotly_js, "")
    assert XSS not in text  # only escaped inside the JSON block
    assert main(["plot", str(run), "--x", "params_m", "--out", str(tmp_path / "p.html")]) == 0
    assert json.loads(_data_block(tmp_path / "p.html"))["costs"][0] == "params_m"


def _data_block(path: Path) -> str:
    text = path.read_text()
    start = text.index('<script type="application/json" id="report-data">') + len('<script type="application/json" id="report-data">')
    return text[start:text.index("</script>", start)]


def _write(folder: Path, name: str, content) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        content.to_csv(path, index=False)
    return folder


def _good_table() -> pd.DataFrame:
    return pd.DataFrame({"trial": [0, 1], "state": ["complete", "pruned"], "accuracy": [0.3, 0.1],
                         "gflops": [1.0, 2.0], "params_m": [1.0, 2.0]})


@pytest.mark.parametrize("name, content, message", [
    ("trials.csv", "", "cannot read trials table"),
    ("trials.csv", "trial,state,accuracy,gflops,params_m\n", "holds no trials"),
    ("trials.csv", pd.DataFrame({"name": ["a"], "score": [1]}), "missing column(s) trial, state, accuracy"),
    ("trials.csv", _good_table().assign(accuracy=["0.3", "high"]), "column 'accuracy' must hold numbers; row 1 holds 'high'"),
    ("trials.csv", _good_table().assign(state=["complete", "done"]), "column 'state' holds 'done'"),
    ("trials.csv", _good_table().assign(trial=[0, 1.5]), "'trial' must hold whole numbers"),
    ("trials.parquet", b"PAR1 this is not parquet", "cannot read trials table"),
], ids=["empty-file", "no-rows", "foreign", "text-accuracy", "unknown-state", "fractional-trial", "corrupt-parquet"])
def test_bad_tables_give_one_line_and_exit_2(tmp_path, capsys, name, content, message):
    run = _write(tmp_path / "run", name, content)
    assert main(["plot", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("archspace: error: ") and message in err, err
    assert not (run / "report.html").exists()


def test_plot_and_compare_usage_errors(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    assert main(["plot", str(run), "--x", "latency_ms"]) == 2
    assert "has no latency_ms values" in capsys.readouterr().err
    assert main(["plot", str(tmp_path / "nowhere")]) == 2
    assert "holds no trials table" in capsys.readouterr().err
    assert main(["compare", str(run), "--out", str(tmp_path / "c.html")]) == 2
    assert "at least two run folders" in capsys.readouterr().err
    assert main(["plot", str(run), "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main(["compare", str(run), str(run), "--out", str(tmp_path / "c.html")]) == 0
    assert (tmp_path / "c.html").stat().st_size > len(get_plotlyjs())


def test_live_rewrites_the_report_until_the_search_ends(tmp_path, archspace_command):
    run = make_run(tmp_path / "run", trials=TRIALS[:3], status="running")
    report = run / "report.html"
    cmd = [*archspace_command, "plot", str(run), "--live", "--interval", "0.2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**__import__("os").environ, "PYTHONPATH": f"{ROOT}"})
    try:
        _wait_for(lambda: report.exists() and '"trial":2,' in report.read_text())
        assert '"trial":7,' not in report.read_text()
        make_run(run, trials=TRIALS, status="running")  # more trials finish
        _wait_for(lambda: '"trial":7,' in report.read_text())
        assert proc.poll() is None  # still watching while the search runs
        make_run(run, trials=TRIALS, status="finished")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert json.loads(_data_block(report))["meta"]["status"] == "finished"


def _wait_for(condition, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)
