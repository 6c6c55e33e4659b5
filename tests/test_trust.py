"""Loading weights never runs code: each loader refuses a malicious pickle with one line,
--trust-pickle is the one way past that, and .safetensors files are complete models."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import archspace
from archspace import preset
from archspace.checkpoint import FORMAT, read_checkpoint, save_checkpoint, set_rng_state
from archspace.cli import main
from archspace.data.synth import generate
from archspace.errors import UserError
from archspace.models import build_model
from archspace.train.data import make_train_data
from archspace.train.device import init_runtime
from archspace.train.loop import TrainSetup, load_weights_into, train
from archspace.train.recipe import load_recipe
from slowfast_ref import slowfast_state

TINY = dict(depths=(1, 1, 1, 1), frames=4, crop=32, train_crop=32)
TINY_ARGS = ["--arch", "x3d_xs", "--set", "depths=[1,1,1,1]", "--frames", "4", "--crop", "32"]


class _WritesMarker:
    """Unpickling this calls exec, which writes the marker file: what a crafted checkpoint does."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('code ran')",)


@pytest.fixture
def run_cli(capsys):
    """The `archspace` command, run in this process (it is the same code; no torch import per call)."""

    def run(*args):
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out, stderr=err)

    return run


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    generate(root, videos_per_class=1, val_videos_per_class=1, frames=8, size=32, seed=3, progress=False)
    return root


def _genome():
    return preset("x3d_xs").replace(classes=15, **TINY)


def _malicious_checkpoint(path, marker):
    """An archspace checkpoint in every field, plus one object that runs code when unpickled."""
    save_checkpoint(path, genome=_genome().to_dict(), model=build_model(_genome()).state_dict(), epoch=1,
                    note=_WritesMarker(marker))


def test_the_malicious_file_runs_code_when_unpickled_in_full(tmp_path):
    # The fixture is armed: a full unpickle (what archspace did before) writes the marker.
    _malicious_checkpoint(tmp_path / "evil.pt", tmp_path / "marker")
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert (tmp_path / "marker").read_text() == "code ran"


@pytest.mark.parametrize("path", ["convert", "eval", "train --init", "train --resume"])
def test_every_cli_loader_refuses_a_malicious_pickle_and_runs_nothing(run_cli, synth, tmp_path, path):
    marker, evil = tmp_path / "marker", tmp_path / "evil.pyth"
    _malicious_checkpoint(evil, marker)
    if path == "convert":
        proc = run_cli("convert", "--from", "slowfast", evil, *TINY_ARGS, "--out", tmp_path / "o.pt")
        assert not (tmp_path / "o.pt").exists()
    elif path == "eval":
        proc = run_cli("eval", "--checkpoint", evil, "--data", synth)
    elif path == "train --init":
        proc = run_cli("train", *TINY_ARGS, "--data", synth, "--epochs", 1, "--init", evil, "--out", tmp_path / "run")
    else:
        (tmp_path / "run").mkdir()
        evil.rename(tmp_path / "run" / "checkpoint.pt")
        proc = run_cli("train", *TINY_ARGS, "--data", synth, "--epochs", 1, "--resume", "--out", tmp_path / "run")
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("archspace: error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "it names builtins.exec, and only tensors and plain types load" in errors[0]
    if path == "convert":
        assert "pass --trust-pickle" in errors[0]
    assert not marker.exists()


def test_load_model_refuses_a_malicious_pickle_and_runs_nothing(tmp_path):
    _malicious_checkpoint(tmp_path / "evil.pt", tmp_path / "marker")
    with pytest.raises(UserError, match="it names builtins.exec"):
        archspace.load_model(tmp_path / "evil.pt")
    assert not (tmp_path / "marker").exists()


def test_trust_pickle_loads_a_slowfast_file_that_pickles_its_config(run_cli, tmp_path):
    from fvcore.common.config import CfgNode

    genome = preset("x3d_xs").replace(classes=174, **TINY)
    state = slowfast_state(genome)
    # As PySlowFast-based code saves it: the config object itself beside the weights.
    cfg = CfgNode({"MODEL": CfgNode({"ARCH": "x3d", "NUM_CLASSES": 174})})
    torch.save({"epoch": 30, "model_state": state, "cfg": cfg}, tmp_path / "x3d.pyth")
    args = ["convert", "--from", "slowfast", tmp_path / "x3d.pyth", *TINY_ARGS, "--set", "classes=174"]
    proc = run_cli(*args, "--out", tmp_path / "safe.pt")
    assert proc.returncode == 2 and not (tmp_path / "safe.pt").exists()
    assert "it names fvcore.common.config.CfgNode" in proc.stderr and "pass --trust-pickle" in proc.stderr
    proc = run_cli(*args, "--trust-pickle", "--out", tmp_path / "trusted.pt")
    assert proc.returncode == 0, proc.stderr
    loaded = archspace.load_model(tmp_path / "trusted.pt").state_dict()
    assert torch.equal(loaded["head.classifier.fc.bias"], state["head.projection.bias"])
    assert torch.equal(loaded["stem.conv_t.weight"], state["s1.pathway0_stem.conv.weight"])


def test_trained_checkpoint_to_safetensors_is_the_same_model(run_cli, synth, tmp_path):
    recipe = load_recipe("ssv2_scratch").with_size(4, 32).replace(epochs=1, warmup_epochs=0.5)
    data = make_train_data(synth, recipe, seed=1)
    run = tmp_path / "run"
    train(TrainSetup(_genome(), recipe, epochs=1, batch_size=8, seed=1, out=run, progress=False),
          data.train, data.val, init_runtime())
    # New checkpoints are tensors and plain types only: torch's default weights-only load, nothing allowed extra.
    assert torch.load(run / "checkpoint.pt", weights_only=True)["epoch"] == 1
    proc = run_cli("export-weights", "--checkpoint", run, "--out", tmp_path / "w.safetensors")
    assert proc.returncode == 0, proc.stderr
    from safetensors import safe_open

    with safe_open(str(tmp_path / "w.safetensors"), framework="pt") as f:
        assert json.loads(f.metadata()["genome"]) == read_checkpoint(run)["genome"]
    ours, theirs = archspace.load_model(run / "checkpoint.pt"), archspace.load_model(tmp_path / "w.safetensors")
    clip = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        assert torch.equal(ours(clip), theirs(clip))
    assert theirs.genome == ours.genome
    # train --init takes it as it takes the checkpoint.
    fresh = build_model(_genome())
    load_weights_into(fresh, tmp_path / "w.safetensors")
    assert all(torch.equal(v, ours.state_dict()[k]) for k, v in fresh.state_dict().items())
    # eval reads it and gives what the run folder gives.
    results = []
    for checkpoint in (run, tmp_path / "w.safetensors"):
        proc = run_cli("eval", "--checkpoint", checkpoint, "--data", synth, "--clips", 1, "--crops", 1, "--json")
        assert proc.returncode == 0, proc.stderr
        results.append(json.loads(proc.stdout))
    assert results[0] == results[1] and results[0]["videos"] == 15
    assert (run / "eval-val.json").is_file()  # a run folder's results go into it
    archspace.export_weights(run / "checkpoint.pt", tmp_path / "api.safetensors")  # the API the verb calls
    exported = read_checkpoint(tmp_path / "api.safetensors")["model"]
    assert exported.keys() == ours.state_dict().keys()
    assert all(torch.equal(v, ours.state_dict()[k]) for k, v in exported.items())


def test_checkpoints_from_before_load_and_resume_their_numpy_rng(tmp_path):
    # Before this change the numpy RNG state was saved as numpy's tuple with an ndarray key.
    np.random.seed(7)
    old = np.random.get_state()
    expected = np.random.rand(3)
    rng = {"python": __import__("random").getstate(), "numpy": old, "torch": torch.get_rng_state()}
    save_checkpoint(tmp_path / "old.pt", genome=_genome().to_dict(), model=build_model(_genome()).state_dict(),
                    rng=rng, epoch=1)
    data = read_checkpoint(tmp_path / "old.pt")
    np.random.seed(0)
    set_rng_state(data["rng"])
    assert np.array_equal(np.random.rand(3), expected)
    assert archspace.load_model(tmp_path / "old.pt").genome == _genome()


def test_files_that_are_not_checkpoints_are_named_as_such(run_cli, synth, tmp_path):
    (tmp_path / "notes.txt").write_text("hello, this is text\n")
    proc = run_cli("eval", "--checkpoint", tmp_path / "notes.txt", "--data", synth)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert f"'{tmp_path / 'notes.txt'}' is not an archspace checkpoint" in proc.stderr
    proc = run_cli("train", *TINY_ARGS, "--data", synth, "--init", tmp_path / "notes.txt", "--out", tmp_path / "r")
    assert proc.returncode == 2 and "is not an archspace checkpoint" in proc.stderr
    with pytest.raises(UserError, match="is a folder without a checkpoint.pt: name a checkpoint file or a run folder"):
        archspace.load_model(tmp_path)
    torch.save({"format": FORMAT, "genome": {}}, tmp_path / "bad.safetensors")  # a pickle, misnamed
    with pytest.raises(UserError, match="cannot read .* as safetensors"):
        archspace.load_model(tmp_path / "bad.safetensors")
