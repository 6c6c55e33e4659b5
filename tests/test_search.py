"""`archspace search` as a user runs it: real Optuna storage, real Ray Tune trials, real
encoded videos (a tiny synthetic benchmark), a real SIGKILL and a real two-node cluster."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from run_helpers import wait_for_rows

# quarter-width networks, two steps an epoch: a training takes about a second
TINY_PROXY = {"frames": 4, "crop": 32, "epochs": 2, "batch_size": 16, "width": 0.25, "warmup_epochs": 0.0,
              "synth": {"videos_per_class": 2, "val_videos_per_class": 1, "frames": 8, "size": 32}}


def write_space(folder: Path, name="tiny", knobs=None, search=None, proxy=None, references=(), **extra) -> Path:
    space = {
        "base": "vov3d_m",
        "knobs": knobs or {"width": {"choices": [16, 24]}, "block": {"choices": ["dw", "d2p1d"]},
                           "modules": {"choices": [1, 2]}},
        "target": {"frames": 16, "crop": 224, "classes": 174},
        "proxy": {**TINY_PROXY, **(proxy or {})},
        "search": {"trials": 3, "concurrency": 1, "sampler": "random", "scheduler": "none", **(search or {})},
        "references": list(references),
        **extra,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(space))
    return path


# `archspace` as search() runs it: under the `env` fixture, through the fork server
# (conftest.py's archspace_command); the Ctrl-C and kill test starts its own processes.
ARCHSPACE = [sys.executable, "-m", "archspace"]


@pytest.fixture
def env(tmp_path, archspace_command, monkeypatch):
    """Environment of a search process: its own cache folder; Ray processes it leaves are
    stopped at the end by the ids the search recorded."""
    monkeypatch.setattr(sys.modules[__name__], "ARCHSPACE", archspace_command)
    env = dict(os.environ, ARCHSPACE_CACHE=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    yield env
    from archspace.search.run import stop_recorded_ray

    for record in tmp_path.rglob("ray-processes.json"):
        stop_recorded_ray(record.parent)


@pytest.mark.xdist_group("ray-cluster")
def test_xdist_keeps_a_group_on_one_worker(request):
    # The shared cluster (conftest.py) relies on --dist loadgroup sending a group to one worker,
    # which xdist does by suffixing the test's id with the group (pytest 9.2 silently
    # dropped that suffix: pytest-xdist issue 1386; pytest is pinned to 9.1.1 for it).
    if getattr(request.config.option, "loadgroup", False):  # set in xdist workers under --dist loadgroup
        assert request.node.nodeid.endswith("@ray-cluster")


def search(*args, env, cwd, timeout=300):
    proc = subprocess.run([*ARCHSPACE, "search", *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.xdist_group("ray-cluster")  # one worker holds the shared cluster (conftest.py)
def test_search_on_a_two_node_cluster_trains_trials_and_references_and_writes_the_run(tmp_path, env, monkeypatch,
                                                                                       ray_cluster):
    # two at a time on the shared cluster of two one-CPU nodes: the trials run on both
    space = write_space(tmp_path, references=["x3d_xs"], search={"concurrency": 2})
    code, out, err = search("--space", str(space), "--address", ray_cluster.address, env=env, cwd=tmp_path)
    assert code == 0, err
    run = tmp_path / "runs" / "tiny"
    df = pd.read_csv(run / "trials.csv")
    assert set(df["node"]) == {node.node_id for node in ray_cluster.list_all_nodes()}
    assert not (run / "ray-processes.json").exists()  # a joined cluster is not the search's to stop
    trials = df[~df["reference"]]
    assert sorted(trials["trial"]) == [0, 1, 2] and set(trials["state"]) == {"complete"}
    assert (trials["epochs"] == 2).all() and (trials["proxy_classes"] == 15).all()
    assert ((trials["accuracy"] >= 0) & (trials["accuracy"] <= 1)).all()
    # exact cost at the target input, from the genome each row stores
    import archspace

    for _, row in trials.iterrows():
        genome = archspace.Genome.from_dict(json.loads(row["genome"]))
        cost = archspace.count(genome)
        assert (row["params"], row["flops"], row["acts"]) == (cost.params, cost.flops, cost.acts)
        assert (genome.frames, genome.crop, genome.classes) == (16, 224, 174)
        assert genome.inner_widths[0] == row["width"] and genome.block == row["block"]
        assert json.loads(row["accuracy_by_epoch"])[-1] == row["accuracy"]
    ref = df[df["reference"]].iloc[0]
    assert ref["preset"] == "x3d_xs" and ref["state"] == "complete" and ref["epochs"] == 2
    xs = archspace.preset("x3d_xs").replace(classes=174)
    assert ref["flops"] == archspace.count(xs).flops
    assert (ref["proxy_frames"], ref["proxy_crop"]) == (1, 32)  # 4 frames of 16 -> 4 * 4 / 16
    assert pd.read_parquet(run / "trials.parquet")["flops"].tolist() == df["flops"].tolist()
    assert "Pareto front: accuracy vs gflops" in out and "x3d_xs" in out
    settings = json.loads((run / "search.json").read_text())
    assert settings["status"] == "finished" and settings["counts"] == {"complete": 3, "pruned": 0, "failed": 0}
    assert (run / "space.yaml").read_text() == space.read_text()
    # resumed when every trial is done: nothing trained, no Ray started, the table as it was
    code, _, err = search("--space", str(space), "--resume", env=env, cwd=tmp_path)
    assert code == 0 and "all 3 trials are done; give --trials N to search further" in err, err
    assert not (run / "ray" / "tune-1").exists()
    assert pd.read_csv(run / "trials.csv")["accuracy"].tolist() == df["accuracy"].tolist()
    # the report of `archspace plot`, written at the end: every row of the table in it
    report = (run / "report.html").read_text()
    assert f"report: {(run / 'report.html').resolve()}" in out
    assert report.count('"state":"complete"') == len(df) == 4  # 3 trials and the reference
    import optuna

    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{run / 'study.db'}")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3
    # the reference is cached per (preset, proxy, seed, data): another search of the space,
    # under another name, finds it there and trains no reference
    from archspace.search.plan import SearchOptions, SearchPlan
    from archspace.search.references import cached_references
    from archspace.search.space import load_space

    monkeypatch.setenv("ARCHSPACE_CACHE", env["ARCHSPACE_CACHE"])
    again = SearchPlan(load_space(space), SearchOptions(name="again"), tmp_path / "runs" / "again")
    again.resolve_data(progress=False)
    rows, missing = cached_references(again, ["x3d_xs"])
    assert missing == [] and rows["x3d_xs"]["accuracy"] == ref["accuracy"] and rows["x3d_xs"]["flops"] == ref["flops"]
    # export: the front's genomes as YAML that `archspace cost --genome` counts exactly as the table
    proc = subprocess.run([*ARCHSPACE, "export", str(run), "--top", "2", "--out", str(tmp_path / "chosen")],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    files = proc.stdout.split()
    assert len(files) == 2
    best = trials.nlargest(2, "accuracy")
    for path, (_, row) in zip(files, best.iterrows()):
        assert Path(path).name == f"trial-{int(row['trial']):04d}.yaml"
        cost = subprocess.run([*ARCHSPACE, "cost", "--genome", path, "--json"], capture_output=True, text=True,
                              timeout=60)
        assert json.loads(cost.stdout)["flops"] == row["flops"]


# What seed 9 gives a search of the space below at concurrency 1, recorded from a run: the
# first four proposals are NSGA-II's random first generation (population 4), the fifth
# its offspring, which depends on the four results. Another sequence here means the same
# seed no longer gives the same genomes, or the sampling changed on purpose (then record
# the new one and say why in the commit).
SEED_9_BLOCKS = ["d2p1d", "dw", "d2p1d", "dw", "d2p1d"]


@pytest.mark.xdist_group("ray-cluster")  # one worker holds the shared cluster (conftest.py)
def test_same_seed_same_genomes_and_duplicates_are_not_trained_again(tmp_path, env, ray_cluster):
    # Two distinct genomes, five trials: the sampler must propose some genome again.
    knobs = {"block": {"choices": ["dw", "d2p1d"]}}
    space = write_space(tmp_path, knobs=knobs, search={"trials": 5, "sampler": "nsga2", "seed": 9})
    code, _, err = search("--space", str(space), "--address", ray_cluster.address, env=env, cwd=tmp_path)
    assert code == 0, err
    df = pd.read_csv(tmp_path / "runs" / "tiny" / "trials.csv").sort_values("trial")
    assert df["block"].tolist() == SEED_9_BLOCKS
    trained = df[df["reused_from"].isna()]
    reused = df[df["reused_from"].notna()]
    assert trained["block"].tolist() == ["d2p1d", "dw"] and trained["trial"].tolist() == [0, 1]
    assert reused["reused_from"].tolist() == [0, 1, 0] and (reused["wall_s"] == 0).all()
    for _, row in reused.iterrows():
        source = df[df["trial"] == row["reused_from"]].iloc[0]
        assert (source["genome"], source["accuracy"]) == (row["genome"], row["accuracy"])


@pytest.mark.xdist_group("ray-cluster")  # one worker holds the shared cluster (conftest.py)
def test_failures_are_data_and_a_grid_covers_each_genome_once(tmp_path, env, ray_cluster):
    # A learning rate that makes the loss NaN: every trial fails, each is a row, the search ends normally.
    knobs = {"block": {"choices": ["dw", "d2p1d", "d1p2d"]}}
    # Under ASHA: Ray checks that every result holds the scheduler's metric (rung_accuracy)
    space = write_space(tmp_path, knobs=knobs, proxy={"lr": 1e12}, search={"trials": 5, "sampler": "grid",
                                                                          "scheduler": "asha", "grace_epochs": 1})
    code, out, err = search("--space", str(space), "--address", ray_cluster.address, env=env, cwd=tmp_path)
    assert code == 0, err
    df = pd.read_csv(tmp_path / "runs" / "tiny" / "trials.csv")
    assert df["state"].tolist() == ["failed"] * 3 and df["block"].tolist() == ["dw", "d2p1d", "d1p2d"]
    assert df["error"].str.contains("TrainingDiverged: loss became nan").all()
    assert "Pareto front" in out  # an empty front is still reported


def _alive(record: dict) -> list[int]:
    import psutil

    alive = []
    for entry in record["processes"]:
        try:
            if abs(psutil.Process(entry["pid"]).create_time() - entry["create_time"]) < 0.01:
                alive.append(entry["pid"])
        except psutil.NoSuchProcess:
            pass
    return alive


def _start(space: Path, *args, env, cwd) -> subprocess.Popen:
    # SIGINT as a terminal delivers it: a suite started in the background (`make test &`)
    # passes SIGINT on ignored, and Python then installs no KeyboardInterrupt for it
    return subprocess.Popen([sys.executable, "-m", "archspace", "search", "--space", str(space), *args], cwd=cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _ray_record(run: Path, proc: subprocess.Popen, timeout: float = 240) -> dict:
    """The Ray processes a running search recorded (once it has started Ray)."""
    path, deadline = run / "ray-processes.json", time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, f"no {path} after {timeout} s"
        time.sleep(0.1)
    return json.loads(path.read_text())


def test_ctrl_c_then_kill_9_then_resume_give_every_trial_once_and_keep_finished_ones(tmp_path, env):
    # 27 genomes and --trials 40: the search is still training when the Ctrl-C and the
    # kill come, however slowly this test gets to send them (no race with its end)
    knobs = {"width": {"choices": [16, 24, 32]}, "block": {"choices": ["dw", "d2p1d", "d1p2d"]},
             "modules": {"choices": [1, 2, 3]}}
    space = write_space(tmp_path, knobs=knobs, search={"trials": 5, "seed": 1})
    run = tmp_path / "runs" / "tiny"
    # Ctrl-C once Ray runs: exit 130, the exact command to resume, Ray stopped.
    proc = _start(space, "--trials", "40", env=env, cwd=tmp_path)
    try:
        record = _ray_record(run, proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert f"Resume with: archspace search --space {space} --name tiny --resume" in err
    assert not _alive(record)
    # Resumed as the hint says (it goes on to the 40 trials the search was started with,
    # not the space's 5), then SIGKILLed once another trial has finished: Ray's helpers outlive it.
    rows = len(pd.read_csv(run / "trials.csv")) if (run / "trials.csv").exists() else 0
    proc = _start(space, "--resume", env=env, cwd=tmp_path)
    try:
        wait_for_rows(run / "trials.csv", rows + 1, proc, timeout=240)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert json.loads((run / "search.json").read_text())["trials"] == 40
    before = pd.read_csv(run / "trials.csv")
    record = json.loads((run / "ray-processes.json").read_text())
    assert rows < len(before) < 40 and _alive(record)
    # the last resume asks for two trials more than the kill left
    wanted = len(before) + 2
    code, out, err = search("--space", str(space), "--resume", "--trials", str(wanted), env=env, cwd=tmp_path)
    assert code == 0, err
    assert not _alive(record), "the resumed search must stop the Ray processes the killed one left"
    after = pd.read_csv(run / "trials.csv")
    assert len(after) == wanted and after["trial"].is_unique and set(after["state"]) == {"complete"}
    kept = after.set_index("trial").loc[before["trial"]]
    for column in ("accuracy", "accuracy_by_epoch", "genome", "flops", "wall_s"):
        assert kept[column].tolist() == before[column].tolist()
    import optuna

    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{run / 'study.db'}")
    assert not [t for t in study.trials if t.state.name in ("RUNNING", "WAITING")]


def test_a_ctrl_c_that_python_drops_still_stops_the_search():
    # Python drops an exception raised while a garbage-collector callback runs; a SIGINT
    # landing in one (SQLAlchemy's, in a search) once let the search go on. The search's
    # handler remembers it, and the Tune loop's step callback raises it again.
    script = """
import os, signal, weakref
from archspace.search.tune import CtrlC, _ctrl_c_remembered, _stop_on_ctrl_c
interrupted = CtrlC()
class Thing: pass
def on_collect(_):
    os.kill(os.getpid(), signal.SIGINT)
    sum(range(10_000))  # the handler runs here, inside the callback: its KeyboardInterrupt is dropped
with _ctrl_c_remembered(interrupted):
    thing = Thing(); ref = weakref.ref(thing, on_collect)
    del thing
    print("went on", interrupted.pressed)
    try:
        _stop_on_ctrl_c(interrupted).on_step_begin(iteration=0, trials=[])
    except KeyboardInterrupt:
        print("stopped at the next step")
print("handler restored", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout.splitlines() == ["went on True", "stopped at the next step", "handler restored True"], \
        proc.stdout + proc.stderr
    assert "KeyboardInterrupt" in proc.stderr  # what Python printed as it dropped the exception


@pytest.mark.parametrize(
    "args, message",
    [
        (["--trials", "0"], "--trials must be >= 1; got 0"),
        (["--concurrency", "0"], "--concurrency must be >= 1"),
        (["--time-budget", "soon"], "time budget 'soon': give a duration"),
        (["--resume"], "holds no search to resume"),
        (["--storage", "nowhere"], "--storage 'nowhere': give an RDB URL"),
        (["--device", "tpu"], "--device must be cpu or cuda"),
        (["--data", "missing-folder"], "proxy data folder 'missing-folder' does not exist"),
        (["--gpus-per-trial", "-1"], "--gpus-per-trial must be >= 0"),
    ],
)
def test_bad_search_options_are_one_line_and_exit_2(tmp_path, env, args, message):
    space = write_space(tmp_path)
    code, out, err = search("--space", str(space), *args, env=env, cwd=tmp_path, timeout=120)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert message in err


def test_a_run_folder_is_not_overwritten_and_export_checks_its_input(tmp_path, env):
    space = write_space(tmp_path)
    run = tmp_path / "runs" / "tiny"
    run.mkdir(parents=True)
    (run / "space.yaml").write_text(space.read_text())
    code, _, err = search("--space", str(space), env=env, cwd=tmp_path)
    assert code == 2 and "already holds a search: pass --resume" in err
    other = write_space(tmp_path, name="other", search={"trials": 9})
    code, _, err = search("--space", str(other), "--name", "tiny", "--resume", env=env, cwd=tmp_path)
    assert code == 2 and "differs from the space the search" in err
    for args, message in [([str(tmp_path), "--out", "x"], "holds no trials table"),
                          ([str(run), "--top", "0", "--out", "x"], "--top must be >= 1")]:
        proc = subprocess.run([*ARCHSPACE, "export", *args], capture_output=True, text=True, cwd=tmp_path, timeout=60)
        assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_the_readme_space_example_is_a_valid_space(tmp_path):
    import re

    from archspace.search.space import load_space

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    example = re.search(r"\*\*A space file\*\*.*?```yaml\n(.*?)```", readme, re.S).group(1)
    (tmp_path / "example.yaml").write_text(example)
    space = load_space(tmp_path / "example.yaml")
    assert {k.name for k in space.knobs} == {"block", "inter", "modules", "width", "depth", "depths.2", "frames"}
    assert (space.proxy.lr, space.proxy.width, space.search.time_budget, space.constraints.max_params_m) == (0.8, 0.5, 900, 10)
    assert space.summary()["size"] == 8640


def test_latency_is_measured_once_per_genome_and_device(tmp_path):
    import archspace
    from archspace.search.trial import cached_latency

    genome = archspace.preset("x3d_xs").replace(crop=64, train_crop=64, frames=2, classes=5)
    first = cached_latency(genome, "cpu", tmp_path)
    files = list(tmp_path.glob("*.json"))
    assert first > 0 and len(files) == 1
    assert json.loads(files[0].read_text())["latency_ms"] == first
    assert cached_latency(genome, "cpu", tmp_path) == first  # read back, not measured again
    cached_latency(genome.replace(frames=4), "cpu", tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == 2


def test_a_search_run_from_a_source_folder_records_its_versions(monkeypatch):
    # PYTHONPATH=/path/to/archspace without pip install: no distribution metadata (a GPU
    # machine's search stopped here with PackageNotFoundError before any trial)
    import importlib.metadata

    from archspace import __version__
    from archspace.search.run import environment

    def no_distributions(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", no_distributions)
    versions = environment()["versions"]
    assert (versions["archspace"], versions["torch"], versions["ray"], versions["optuna"]) == (__version__, None, None, None)


def test_space_show_cli_json_and_a_bad_space_file(tmp_path, env):
    proc = subprocess.run([*ARCHSPACE, "space", "show", "search_spaces/vov3d.yaml", "--json"],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
    data = json.loads(proc.stdout)
    assert proc.returncode == 0 and (data["size"], data["feasible"], data["exact"]) == (1280, 897, True)
    bad = write_space(tmp_path, knobs={"width": {"low": 40, "high": 32}})
    proc = subprocess.run([*ARCHSPACE, "search", "--space", str(bad)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert str(bad) in proc.stderr and "knobs.width" in proc.stderr


def test_a_trial_stopped_early_is_pruned_in_the_study_and_kept_off_the_front(tmp_path, monkeypatch):
    # What ASHA's early stop looks like to the searcher: the trial completes with fewer
    # epochs than the budget. (The default search's run shows ASHA pruning for real.)
    import optuna

    from archspace.search.plan import SearchOptions, SearchPlan
    from archspace.search.run import make_sampler, open_study, write_outputs
    from archspace.search.table import searched_front
    from archspace.search.searcher import make_searcher
    from archspace.search.space import load_space

    monkeypatch.setenv("ARCHSPACE_CACHE", str(tmp_path / "cache"))
    space = load_space(write_space(tmp_path, proxy={"epochs": 3}, search={"trials": 2, "scheduler": "asha",
                                                                         "grace_epochs": 1}))
    plan = SearchPlan(space, SearchOptions(), tmp_path / "run")
    plan.resolve_data(progress=False)
    (tmp_path / "run").mkdir()
    study = open_study(None, tmp_path / "run", "tiny", ["maximize", "minimize"], make_sampler("random", 0, 2, 0), False)
    searcher = make_searcher(plan, study, [], progress=lambda s: None)
    first, second = searcher.suggest("a"), searcher.suggest("b")
    assert first["number"] == 0 and second["number"] == 1
    searcher.on_trial_complete("a", {"accuracy": 0.4, "epoch": 1, "accuracy_by_epoch": [0.4], "wall_s": 1.0})
    searcher.on_trial_complete("b", {"accuracy": 0.2, "epoch": 3, "accuracy_by_epoch": [0.1, 0.1, 0.2], "wall_s": 3.0})
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.COMPLETE]
    assert study.trials[1].values[0] == 0.2 and searcher.suggest("c") == "FINISHED"
    df = write_outputs(plan, study, tmp_path / "run")
    assert df["state"].tolist() == ["pruned", "complete"] and df["epochs"].tolist() == [1, 3]
    front = searched_front(df, {"accuracy": "max", "gflops": "min"})
    assert front["trial"].tolist() == [1]  # the pruned trial's higher partial accuracy stays off the front


def test_a_trial_that_ray_stops_in_its_report_stops_training(tmp_path, monkeypatch):
    # Ray Tune stops a trial (ASHA) by raising SystemExit from its report. The training must
    # end there: Ray reuses the process for the next trial, and a training left running in
    # the background would slow every later trial (it did: 47 s an epoch against 18 s).
    import threading

    from archspace.search.plan import SearchOptions, SearchPlan
    from archspace.search.space import load_space
    from archspace.search.trial import train_spec

    monkeypatch.setenv("ARCHSPACE_CACHE", str(tmp_path / "cache"))
    space = load_space(write_space(tmp_path, proxy={"epochs": 4}))
    plan = SearchPlan(space, SearchOptions(), tmp_path / "run")
    plan.resolve_data(progress=False)
    epochs = []

    def report(metrics):
        epochs.append(metrics["epoch"])
        if metrics["epoch"] == 2:
            raise SystemExit(0)  # what ray.tune.report does once the trial is stopped

    threads = threading.active_count()
    with pytest.raises(SystemExit):
        train_spec(plan.spec(space.base), report)
    assert epochs == [1, 2] and threading.active_count() == threads  # nothing trains on

    reports = []  # an exception in training is a failed result, and the call returns
    train_spec(dataclasses.replace(plan.spec(space.base), data=str(tmp_path / "missing")), reports.append)
    assert len(reports) == 1 and reports[0]["failed"] and reports[0]["epoch"] == 0


@pytest.mark.parametrize("mean_epochs,decision", [(1, "STOP"), (2, "CONTINUE")])
def test_asha_compares_the_mean_accuracy_of_the_last_epochs_at_a_rung(tmp_path, monkeypatch, mean_epochs, decision):
    # B's last epoch (0.28) is below A's (0.30) at the rung, its mean of two (0.39) above A's (0.25)
    from types import SimpleNamespace

    from archspace.search.plan import SearchOptions, SearchPlan
    from archspace.search.searcher import make_scheduler
    from archspace.search.space import load_space
    from archspace.search.trial import rung_accuracy

    monkeypatch.setenv("ARCHSPACE_CACHE", str(tmp_path / "cache"))
    space = load_space(write_space(tmp_path, proxy={"epochs": 4}, search={
        "scheduler": "asha", "grace_epochs": 2, "reduction_factor": 2, "rung_mean_epochs": mean_epochs}))
    plan = SearchPlan(space, SearchOptions(), tmp_path / "run")
    scheduler = make_scheduler(plan)
    a, b = (SimpleNamespace(trial_id=name, config={"kind": "trial"}) for name in "ab")
    for trial in (a, b):
        scheduler.on_trial_add(None, trial)
    # what a trial reports: rung_accuracy over the epochs its spec (from the space) says
    epochs = plan.spec(space.base).rung_mean_epochs
    for trial, history in ((a, [0.2, 0.3]), (b, [0.5, 0.28])):
        result = {"epoch": 2, "accuracy": history[-1], "rung_accuracy": rung_accuracy(history, epochs)}
        verdict = scheduler.on_trial_result(None, trial, result)
    assert (rung_accuracy([0.2, 0.3], 2), rung_accuracy([0.1, 0.5, 0.3], 2)) == (0.25, 0.4)
    assert verdict == decision  # the first trial at a rung always goes on; B's verdict


def test_the_time_budget_stops_launching_trials_once_spent(tmp_path, monkeypatch):
    # What Ray Tune asks the searcher between trials (every search above ends by its
    # FINISHED): the budget runs from the first launch; once spent, nothing more starts.
    from archspace.search.plan import SearchOptions, SearchPlan
    from archspace.search.run import make_sampler, open_study
    from archspace.search.searcher import make_searcher
    from archspace.search.space import load_space
    from ray.tune.search import Searcher

    monkeypatch.setenv("ARCHSPACE_CACHE", str(tmp_path / "cache"))
    space = load_space(write_space(tmp_path, search={"trials": 3}))
    plan = SearchPlan(space, SearchOptions(time_budget_s=2.0), tmp_path / "run")
    plan.resolve_data(progress=False)
    (tmp_path / "run").mkdir()
    study = open_study(None, tmp_path / "run", "tiny", ["maximize", "minimize"], make_sampler("random", 0, 3, 0), False)
    searcher = make_searcher(plan, study, [], progress=lambda s: None)
    assert searcher.suggest("a")["number"] == 0
    assert searcher.suggest("b")["number"] == 1  # within the budget
    time.sleep(2.1)
    assert searcher.suggest("c") == Searcher.FINISHED
    assert len(study.trials) == 2


def test_a_resume_keeps_the_options_the_search_was_run_with(tmp_path):
    from archspace.search.plan import SearchOptions
    from archspace.search.run import options_as_run

    journal = str(tmp_path / "study.log")
    (tmp_path / "search.json").write_text(json.dumps(
        {"trials": 40, "concurrency": 3, "time_budget_s": 600.0, "seed": 7, "scheduler": "asha", "storage": journal}))
    kept = options_as_run(SearchOptions(resume=True), tmp_path)
    assert (kept.trials, kept.concurrency, kept.time_budget_s, kept.seed, kept.scheduler, kept.storage) == \
        (40, 3, 600.0, 7, "asha", journal)
    # the command line still says what it says
    given = options_as_run(SearchOptions(resume=True, trials=9, storage="sqlite:///other.db"), tmp_path)
    assert (given.trials, given.storage, given.seed) == (9, "sqlite:///other.db", 7)
    # the default storage (SQLite in the run folder) is found there anyway: not made explicit
    (tmp_path / "search.json").write_text(json.dumps({"trials": 4, "storage": f"sqlite:///{tmp_path / 'study.db'}"}))
    assert options_as_run(SearchOptions(resume=True), tmp_path).storage is None
