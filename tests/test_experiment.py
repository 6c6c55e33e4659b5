"""`archspace experiment` as a user runs it: the shipped experiment files at --budget quick
(real synthetic videos, real Ray Tune trainings on one shared cluster), a real SIGKILL
and resume, the Table 1 and cost checks, and bad input."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from archspace import count
from archspace.genome import Genome
from run_helpers import wait_for_rows

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = REPO / "experiments"
RESULT_COLUMNS = ["name", "proxy", "params", "flops", "params_m", "gflops", "paper_params_m", "paper_gflops",
                  "paper_top1", "accuracy_mean", "accuracy_std", "order_tempo_accuracy_mean",
                  "order_tempo_accuracy_std", "other_accuracy_mean", "other_accuracy_std", "seeds", "wall_s"]
# One worker runs this module: its runs share one synthetic data set and the session's Ray
# cluster (conftest.py) with the searches under test.
pytestmark = pytest.mark.xdist_group("ray-cluster")


# `archspace` as experiment() runs it: under the `work` fixture, through the fork server
# (conftest.py's archspace_command); the kill of the table6 fixture hits a process of its own.
ARCHSPACE = [sys.executable, "-m", "archspace"]


@pytest.fixture(scope="module")
def work(tmp_path_factory, ray_cluster, archspace_command):
    """A folder, the environment of an experiment process (its own cache folder), and the
    address of the Ray cluster the runs join with --address."""
    global ARCHSPACE
    folder = tmp_path_factory.mktemp("experiments")
    env = dict(os.environ, ARCHSPACE_CACHE=str(folder / "cache"), PYTHONUNBUFFERED="1")
    ARCHSPACE = archspace_command
    yield folder, env, ray_cluster.address
    ARCHSPACE = [sys.executable, "-m", "archspace"]


def experiment(*args, env, cwd, timeout=300):
    return subprocess.run([*ARCHSPACE, "experiment", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=timeout)


@pytest.fixture(scope="module")
def table6(work):
    """The quick path of table6.yaml with 1 seed (the file says 3), SIGKILLed after its first
    training and resumed as its hint says (without --seeds), once for the checks below: the
    resumed run, the rows finished before the kill, and the pairs Ray trained before it.
    (The pooling of several seeds is checked on known numbers: test_results_pool_the_seeds.)"""
    folder, env, address = work
    out = folder / "table6"
    # one training at a time: one Ray actor (torch imported once) rather than two, on a machine the suite keeps busy
    args = [str(EXPERIMENTS / "table6.yaml"), "--budget", "quick", "--address", address, "--out", str(out),
            "--concurrency", "1"]
    proc = subprocess.Popen([sys.executable, "-m", "archspace", "experiment", *args, "--seeds", "1"], cwd=folder,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_rows(out / "trials.csv", 1, proc, timeout=240, poll_s=0.2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = pd.read_csv(out / "trials.csv")
    resumed = experiment(*args, "--resume", env=env, cwd=folder)
    assert resumed.returncode == 0, resumed.stderr
    return out, resumed, before[before["state"] == "complete"]


def _trained_labels(out: Path, attempt: int) -> set[str]:
    """The pair labels Ray trained in one attempt (its trial folders: LABEL-<trial id>)."""
    folder = out / "ray" / f"tune-{attempt}"
    return {p.name.rsplit("-", 1)[0] for p in folder.iterdir() if p.is_dir()} if folder.exists() else set()


def test_a_killed_run_resumes_without_training_a_pair_twice(table6):
    out, _, finished = table6
    assert 1 <= len(finished) < 7
    after = pd.read_csv(out / "trials.csv")
    # the resume went on with the 1 seed the run was started with, not the file's 3
    assert len(after) == 7 and set(after["state"]) == {"complete"} and after["key"].is_unique
    kept = after.set_index("key").loc[finished["key"]]
    for column in ("accuracy", "accuracy_by_epoch", "per_class", "wall_s", "genome"):
        assert kept[column].tolist() == finished[column].tolist()
    # never trained twice: no pair finished before the kill is in the resumed run's trainings
    labels = {f"{int(r['trial']):03d}" for r in finished.to_dict("records")}
    first, again = _trained_labels(out, 0), {label[:3] for label in _trained_labels(out, 1)}
    assert first and again and not labels & again
    assert len(again) == 7 - len(finished)


def test_table6_quick_writes_the_results_columns_and_exact_costs(table6):
    out, proc, _ = table6
    results = pd.read_csv(out / "results.csv")
    assert results.columns.tolist() == RESULT_COLUMNS
    assert results["name"].tolist()[:2] == ["(a) bottleneck", "(b) R(2+1)D"] and len(results) == 7
    assert (results["seeds"] == 1).all() and (results["proxy"] == "proxy").all()
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 7 and set(trials["state"]) == {"complete"} and (trials["epochs"] == 1).all()
    for r in results.to_dict("records"):
        rows = trials[trials["name"] == r["name"]]
        genome = Genome.from_dict(json.loads(rows["genome"].iloc[0]))
        cost = count(genome, "paper")  # the experiment's convention, at the paper's input
        assert (r["params"], r["flops"]) == (cost.params, cost.flops)
        assert (genome.frames, genome.crop, genome.train_crop, genome.classes) == (16, 256, 224, 174)
        assert r["accuracy_mean"] == rows["accuracy"].item() and r["accuracy_std"] != r["accuracy_std"]  # one seed: no std
        assert r["order_tempo_accuracy_mean"] == rows["order_tempo_accuracy"].item()
    published = results.set_index("name")
    assert (published.loc["(e) D(2+1)D", "paper_params_m"], published.loc["(e) D(2+1)D", "paper_gflops"]) == (3.3, 5.7)
    assert published.loc["(a) bottleneck", "paper_top1"] == 47.1
    assert proc.stdout.startswith("# Table 6")  # results.md, printed


def test_the_split_comes_from_the_same_evaluation_as_the_accuracy(table6):
    from archspace.data.synth import PAIRED_CLASSES

    trials = pd.read_csv(table6[0] / "trials.csv")
    for r in trials.to_dict("records"):
        per_class = json.loads(r["per_class"])
        assert len(per_class) == 15 and all(videos == 2 for _, videos in per_class.values())
        hits = {name: h for name, (h, _) in per_class.items()}
        assert r["accuracy"] == pytest.approx(sum(hits.values()) / 30)
        paired = sum(hits[c] for c in PAIRED_CLASSES)
        assert r["order_tempo_accuracy"] == pytest.approx(paired / 24)
        assert r["other_accuracy"] == pytest.approx((sum(hits.values()) - paired) / 6)


def test_table6_results_md_has_the_paper_beside_ours_and_computed_orderings(table6):
    out = table6[0]
    md = (out / "results.md").read_text()
    results = pd.read_csv(out / "results.csv").set_index("name")
    assert "| (e) D(2+1)D | 3.3" in md and "| 5.7 x 6 | 48.1 |" in md
    # every published cost figure of Table 6 is what ours prints truncated
    assert "14 of 14 published cost figures are what ours prints truncated to 1 decimal" in md
    line = next(x for x in md.splitlines() if x.startswith("- **(e) D(2+1)D** vs **(c) dw-bottleneck**"))
    e, c = results.loc["(e) D(2+1)D", "accuracy_mean"], results.loc["(c) dw-bottleneck", "accuracy_mean"]
    assert "the paper has (e) D(2+1)D ahead (48.1 vs 46.9)" in line
    overall = line.split("Ours overall: ")[1].split("Ours on the")[0]
    if e != c:
        assert (" - agrees with the paper" in overall) == (e > c)
    assert f"{100 * e:.1f} vs {100 * c:.1f}" in overall
    report = (out / "report.html").read_text()
    assert report.count('"state":"complete"') == 7
    # the report groups by the experiment's names, proxies and seeds (not by its result
    # columns) and shows results.md
    from archspace.analysis.report import run_data

    data = run_data(out)
    assert data["knobs"] == ["name", "proxy", "seed"] and data["results_md"] == md
    settings = json.loads((out / "experiment.json").read_text())
    assert settings["status"] == "finished" and settings["budget"] == "quick" and settings["seeds"] == 1


def test_proxy_fidelity_quick_gives_the_rank_agreement_of_each_proxy(work):
    folder, env, address = work
    out = folder / "fidelity"
    # The shipped file with its 4 cheapest genomes (of 8) and one seed keeps it short: the
    # path is the same, the seed spread is checked on known numbers below.
    spec = yaml.safe_load((EXPERIMENTS / "proxy_fidelity.yaml").read_text())
    spec["space"] = str((EXPERIMENTS / spec["space"]).resolve())
    spec["genomes"] = spec["genomes"][:4]
    trimmed = folder / "proxy_fidelity.yaml"
    trimmed.write_text(yaml.safe_dump(spec, sort_keys=False))
    proc = experiment(str(trimmed), "--budget", "quick", "--seeds", "1", "--address",
                      address, "--out", str(out), "--concurrency", "1", env=env, cwd=folder)
    assert proc.returncode == 0, proc.stderr
    after = pd.read_csv(out / "trials.csv")
    assert len(after) == 12 and set(after["state"]) == {"complete"}
    # quick `epochs8` is quick `default`: each pair trained once, its result given to both
    assert "12 trainings" in proc.stderr and "8 to train (4 more share their training)" in proc.stderr
    default, epochs8 = (after[after["proxy"] == p].reset_index(drop=True) for p in ("default", "epochs8"))
    assert (default["source"] == "trained").all() and (default["key"] == epochs8["key"]).all()
    assert epochs8["source"].tolist() == [f"shared with trial {t}" for t in default["trial"]]
    assert epochs8["accuracy"].tolist() == default["accuracy"].tolist()
    assert after[after["proxy"] == "long"]["key"].is_unique and not set(after[after["proxy"] == "long"]["key"]) & \
        set(default["key"])
    # the fidelity figures are computed from results.csv's numbers
    from scipy.stats import kendalltau

    results = pd.read_csv(out / "results.csv")
    assert len(results) == 12 and set(results["proxy"]) == {"default", "epochs8", "long"}
    long = results[results["proxy"] == "long"].set_index("name")["accuracy_mean"]
    md = (out / "results.md").read_text()
    for proxy in ("default", "epochs8"):
        mean = results[results["proxy"] == proxy].set_index("name")["accuracy_mean"]
        tau = kendalltau(mean, long.loc[mean.index]).statistic
        if tau == tau:
            assert f"- `{proxy}` (seed mean) vs `long`: Kendall tau {tau:+.2f}" in md
    assert "- `default`: one seed, no spread measured." in md and "Verdict: " in md


def test_a_resume_gives_each_pair_of_a_shared_training_its_own_row(tmp_path):
    from types import SimpleNamespace

    from archspace.experiment.run import _kept_rows

    # pairs 0 and 1 shared one training (same key); pair 2 failed and is trained again
    pd.DataFrame([{"trial": 0, "state": "complete", "key": "k", "per_class": "{}", "accuracy": 0.5},
                  {"trial": 1, "state": "complete", "key": "k", "per_class": "{}", "accuracy": 0.5},
                  {"trial": 2, "state": "failed", "key": "j", "per_class": "", "accuracy": None}]
                 ).to_csv(tmp_path / "trials.csv", index=False)
    pairs = [SimpleNamespace(key="k", index=0), SimpleNamespace(key="k", index=1), SimpleNamespace(key="j", index=2)]
    kept = _kept_rows(tmp_path, pairs)
    assert sorted(kept) == [0, 1] and [kept[i]["trial"] for i in (0, 1)] == [0, 1]


def test_results_pool_the_seeds():
    from archspace.experiment.spec import load_experiment
    from archspace.experiment.tables import results_frame

    exp = load_experiment(EXPERIMENTS / "table6.yaml")
    first, second = exp.genomes[0].name, exp.genomes[1].name
    rows = [  # (name, seed, state, accuracy, order/tempo, other); a failed seed is left out
        (first, 0, "complete", 0.30, 0.25, 0.50), (first, 1, "complete", 0.40, 0.30, 0.70),
        (first, 2, "failed", None, None, None), (second, 0, "complete", 0.20, 0.10, 0.60),
    ]
    trials = pd.DataFrame([{"name": n, "seed": s, "state": st, "proxy": "proxy", "wall_s": 10.0, "accuracy": a,
                            "order_tempo_accuracy": o, "other_accuracy": x} for n, s, st, a, o, x in rows])
    results = results_frame(exp, trials).set_index("name")
    a, b = results.loc[first], results.loc[second]
    assert (a["seeds"], a["wall_s"], b["seeds"], b["wall_s"]) == (2, 20.0, 1, 10.0)
    # sample std of two values: |x - y| / sqrt(2)
    assert [a["accuracy_mean"], a["accuracy_std"]] == pytest.approx([0.35, 0.1 / 2 ** 0.5])
    assert [a["order_tempo_accuracy_mean"], a["order_tempo_accuracy_std"]] == pytest.approx([0.275, 0.05 / 2 ** 0.5])
    assert [a["other_accuracy_mean"], a["other_accuracy_std"]] == pytest.approx([0.6, 0.2 / 2 ** 0.5])
    assert b["accuracy_mean"] == 0.2 and b["accuracy_std"] != b["accuracy_std"]  # one seed: no std
    assert results.loc[exp.genomes[2].name, "seeds"] == 0
    assert (results["params"] == [count(e.genome, "paper").params for e in exp.genomes]).all()


def test_fidelity_figures_on_known_accuracies():
    from scipy.stats import kendalltau, spearmanr

    from archspace.experiment.fidelity import fidelity_section, rank_agreement

    rng = __import__("numpy").random.default_rng(0)
    x, y = rng.random(8), rng.random(8)
    a = rank_agreement(x, y, bootstrap=500)
    assert a["tau"] == pytest.approx(kendalltau(x, y).statistic) and a["rho"] == pytest.approx(spearmanr(x, y).statistic)
    assert -1 <= a["tau_low"] <= a["tau"] <= a["tau_high"] <= 1 and a["n"] == 8
    perfect = rank_agreement(x, 2 * x + 1, bootstrap=200)
    assert [perfect["tau"], perfect["tau_low"], perfect["tau_high"]] == pytest.approx([1.0, 1.0, 1.0])
    # 4 genomes, 2 seeds, two proxies: the long one ranks them 1 < 2 < 3 < 4, the default
    # proxy's seed mean swaps the last two; seed spreads written out by hand
    long = {"a": (0.10, 0.12), "b": (0.20, 0.22), "c": (0.30, 0.32), "d": (0.40, 0.42)}
    default = {"a": (0.05, 0.07), "b": (0.10, 0.16), "c": (0.30, 0.20), "d": (0.20, 0.22)}
    rows = [{"proxy": proxy, "name": n, "seed": s, "state": "complete", "accuracy": acc[n][s]}
            for proxy, acc in (("default", default), ("long", long)) for n in acc for s in (0, 1)]
    exp = type("E", (), {"fidelity": {"reference": "long", "proxies": ["default"], "bootstrap": 200},
                         "genomes": [type("G", (), {"name": n}) for n in "abcd"]})
    text = "\n".join(fidelity_section(exp, pd.DataFrame(rows)))
    tau = kendalltau([0.06, 0.13, 0.25, 0.21], [0.11, 0.21, 0.31, 0.41]).statistic  # 5 of 6 pairs agree: 2/3
    assert tau == pytest.approx(2 / 3)
    assert f"- `default` (seed mean) vs `long`: Kendall tau {tau:+.2f}" in text
    # std over two seeds is |a - b| / sqrt(2): default 0.014, 0.042, 0.071, 0.014 -> mean 3.5, max 7.1 points
    assert "- `default`: std over seeds 3.5 points on average (largest 7.1)" in text
    assert "- `long`: std over seeds 1.4 points on average (largest 1.4)" in text


def test_resampled_taus_are_scipys_kendall_tau_b_of_each_resample():
    from scipy.stats import kendalltau

    from archspace.experiment.fidelity import resampled_taus

    rng = __import__("numpy").random.default_rng(1)
    # accuracies in steps of 1/15 (a 15-video validation set): resamples repeat genomes and tie values
    x, y = rng.integers(0, 6, 8) / 15, rng.integers(0, 6, 8) / 15
    resamples = rng.integers(0, 8, (400, 8))
    expected = [kendalltau(x[i], y[i]).statistic for i in resamples]
    kept = [t for t, i in zip(expected, resamples) if len(set(x[i])) > 1 and len(set(y[i])) > 1]
    assert len(kept) < 400  # some resamples are all tied in x or y, and are left out
    assert resampled_taus(x, y, resamples) == pytest.approx(kept, abs=1e-12)


def test_the_verdict_weighs_an_alternative_by_its_seed_mean_and_by_one_seed():
    from archspace.experiment.fidelity import verdict

    taus = {"default": 0.6, "default, seed 0 alone": 0.25, "default, seed 1 alone": 0.25,
            "epochs8": 0.5, "epochs8, seed 0 alone": 0.5, "epochs8, seed 1 alone": 0.5}
    text = verdict({"proxies": ["default", "epochs8"], "reference": "long"}, {k: {"tau": t} for k, t in taus.items()})
    assert "One seed alone gives tau +0.25 on average: averaging 2 seeds improves it by +0.35." in text
    assert "The `epochs8` proxy gives tau +0.50, no better." in text
    assert ("One seed of it alone gives +0.50 on average, against +0.25 for `default`: better for a search "
            "that trains each genome once.") in text


def test_table1_formulas_and_the_cost_model_agree(tmp_path):
    from archspace.experiment.run import ExperimentOptions, run_experiment
    from archspace.experiment.spec import load_experiment

    result = run_experiment(load_experiment(EXPERIMENTS / "table1.yaml"), ExperimentOptions(out=str(tmp_path / "t1")))
    df = result.results
    assert len(df) == 25 and df["agree"].all()
    row = df[(df["block"] == "d2p1d") & (df["C"] == 48)].iloc[0]
    # C (t + k^2) = 48 * 12 weights, each applied at all 56 * 56 * 16 positions
    assert (row["params"], row["flops"]) == (576, 576 * 56 * 56 * 16)
    strided = df[(df["block"] == "d1p2d") & (df["s"] == 2) & (df["C"] == 96)].iloc[0]
    # D(1+2)D's temporal conv runs before the stride: C (s^2 t + k^2) HWT / s^2
    assert strided["flops"] == 96 * (4 * 3 + 9) * 28 * 28 * 16 // 4
    assert "25 of 25 rows agree exactly" in (tmp_path / "t1" / "results.md").read_text()


def test_table5_cost_check_names_the_rows_that_differ_and_why():
    from archspace.experiment.spec import load_experiment
    from archspace.experiment.tables import cost_check

    lines = cost_check(load_experiment(EXPERIMENTS / "table5.yaml"))
    text = "\n".join(lines)
    assert lines[0] == "## Cost check against the published figures"
    flagged = [x for x in lines if x.startswith("- ")]
    assert flagged, text
    for x in flagged:  # each names a row, ours, the paper's figure and the difference
        assert "ours " in x and ("only when rounded" in x or "the paper " in x)
    assert any(x.startswith("- X3D-L, GFLOPs") for x in flagged), text


@pytest.mark.parametrize("content,message", [
    ("space: ../nope.yaml\ngenomes: [{name: a}]\n", "cannot read space file"),
    ("space: {space}\ngenomes: [{name: a, set: [block=bogus]}]\n", "genomes[0]: block"),
    ("space: {space}\ngenomes: [{name: a}, {name: a}]\n", "genomes[1].name: duplicate name 'a'"),
    ("space: {space}\ngenomes: [{name: a}]\nbudgets: {full: {p: {epochs: 0}}}\n", "proxy.epochs: must be an integer >= 1"),
    ("space: {space}\ngenomes: [{name: a}]\ncolour: red\n", "colour: unknown key"),
    ("space: {space}\ngenomes: [{name: a}]\ncompare: [[a, b]]\n", "compare[0]: must be two different genome names"),
])
def test_bad_experiment_files_are_one_line_and_exit_2(tmp_path, monkeypatch, capsys, content, message):
    from archspace.cli import main

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.yaml"
    path.write_text(content.replace("{space}", str(REPO / "search_spaces" / "table6.yaml")))
    assert main(["experiment", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and str(path) in err, err
    assert not (tmp_path / "runs").exists()


def test_resume_needs_a_run_and_a_run_is_not_overwritten(tmp_path):
    table1 = str(EXPERIMENTS / "table1.yaml")
    proc = experiment(table1, "--resume", "--out", str(tmp_path / "r"), env=dict(os.environ), cwd=tmp_path)
    assert proc.returncode == 2 and "holds no experiment to resume" in proc.stderr
    assert experiment(table1, "--out", str(tmp_path / "r"), env=dict(os.environ), cwd=tmp_path).returncode == 0
    proc = experiment(table1, "--out", str(tmp_path / "r"), env=dict(os.environ), cwd=tmp_path)
    assert proc.returncode == 2 and "already holds a run" in proc.stderr


def test_a_second_run_takes_every_finished_training_from_the_cache(table6, work):
    folder, env, address = work
    out = folder / "table6-again"
    proc = experiment(str(EXPERIMENTS / "table6.yaml"), "--budget", "quick", "--seeds", "1", "--address", address,
                      "--out", str(out), env=env, cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert "7 done or cached, 0 to train" in proc.stderr and not (out / "ray").exists()
    first, again = pd.read_csv(table6[0] / "trials.csv"), pd.read_csv(out / "trials.csv")
    assert (again["source"] == "cache").all()
    for column in ("key", "accuracy", "per_class", "order_tempo_accuracy", "flops"):
        assert again[column].tolist() == first[column].tolist()


def test_ordering_sentences_follow_the_numbers():
    from archspace.experiment.tables import RESULT_COLUMNS as COLUMNS, ordering

    assert COLUMNS == RESULT_COLUMNS

    def row(name, top1, acc, std, paired):
        return {"name": name, "proxy": "p", "gflops": 5.0, "paper_top1": top1, "accuracy_mean": acc,
                "accuracy_std": std, "order_tempo_accuracy_mean": paired, "order_tempo_accuracy_std": 0.01}

    results = pd.DataFrame([row("a", 48.1, 0.30, 0.01, 0.20), row("b", 46.9, 0.20, 0.02, 0.25),
                            row("c", 47.0, 0.1 + 0.2, 0.01, 0.20), row("d", 45.0, 0.4, 0.2, None)])
    exp = type("E", (), {"compare": [("a", "b"), ("a", "c"), ("d", "a")]})
    lines = ordering(exp, results)
    ab, ac, da = lines[:3]
    assert "the paper has a ahead (48.1 vs 46.9)" in ab
    assert "Ours overall: 30.0 vs 20.0, a ahead by 10.0 points, larger than the seed spread (std up to 2.0) - agrees" in ab
    assert "order/tempo-pair classes: 20.0 vs 25.0, b ahead by 5.0 points" in ab and ab.endswith("disagrees with the paper.")
    assert "Ours overall: 30.0 vs 30.0, level" in ac and "does not separate them" in ac  # 0.1 + 0.2 is 0.3 here
    assert "d ahead by 10.0 points, within the seed spread (std up to 20.0) - disagrees" in da
    assert "order/tempo-pair classes: not measured" in da
    assert "Overall accuracy orders 1 of the 2 pairs it separates as the paper does." in lines
