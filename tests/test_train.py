"""The training engine on real encoded videos of the synthetic benchmark."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import archspace
from archspace import preset
from archspace.data.synth import generate
from archspace.checkpoint import read_checkpoint
from archspace.train.data import make_train_data
from archspace.train.device import init_runtime
from archspace.train.loop import TrainingDiverged, TrainSetup, train
from archspace.train.recipe import load_recipe
from data_helpers import write_numbered
from lr_judge import torch_lrs

TINY = dict(depths=(1, 1, 1, 1), frames=4, crop=32, train_crop=32)

# One worker runs this module (make test uses pytest-xdist): its data and its trained run
# are module fixtures, built once rather than once per worker.
pytestmark = pytest.mark.xdist_group("train")


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    generate(root, videos_per_class=2, val_videos_per_class=1, frames=8, size=40, seed=3, progress=False)
    return root


def _recipe(epochs=3):
    return load_recipe("ssv2_scratch").with_size(4, 32).replace(epochs=epochs, warmup_epochs=0.5)


def _setup(genome, out, epochs=3, **kw):
    return TrainSetup(genome, _recipe(epochs), epochs=epochs, batch_size=8, seed=1, out=out, progress=False, **kw)


def _genome(classes):
    return preset("x3d_xs").replace(classes=classes, **TINY)


def test_resume_after_interruption_ends_exactly_like_an_uninterrupted_run(synth, tmp_path):
    data = make_train_data(synth, _recipe(), seed=1)
    genome = _genome(len(data.classes))
    straight = train(_setup(genome, tmp_path / "a"), data.train, data.val, init_runtime())

    def interrupt_after_two(metrics):
        if metrics["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(_setup(genome, tmp_path / "b"), data.train, data.val, init_runtime(), on_epoch_end=interrupt_after_two)
    assert torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)["epoch"] == 2
    with pytest.raises(archspace.UserError, match="pass --resume to continue"):
        train(_setup(genome, tmp_path / "b"), data.train, data.val, init_runtime())
    resumed = train(_setup(genome, tmp_path / "b", resume=True), data.train, data.val, init_runtime())

    timing = ("train_clips_per_s", "epoch_s")
    assert {k: v for k, v in resumed.items() if k not in timing} == {k: v for k, v in straight.items() if k not in timing}
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    lines = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
    # Each epoch's last step (4 steps of 8 of the 30 clips; past the half-epoch warm-up)
    # ran at the lr of torch's cosine annealing over the run's 12 steps.
    peak = _recipe().lr_for_batch(8)
    cosine = torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=12), 12, peak)
    assert [json.loads(line)["lr"] for line in lines] == pytest.approx(cosine[3::4], rel=1e-9)


def test_load_model_rebuilds_the_trained_network(synth, tmp_path):
    data = make_train_data(synth, _recipe(1), seed=1, use_cache=True)
    genome = _genome(len(data.classes))
    train(_setup(genome, tmp_path, epochs=1), data.train, data.val, init_runtime())
    model = archspace.load_model(tmp_path / "checkpoint.pt")
    assert not model.training and model.genome == genome.replace(dropout=0.5)
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())


class _PoisonedFromEpoch:
    """Clips become NaN from a given epoch on: a run that diverges mid-way."""

    def __init__(self, dataset, epoch):
        self.dataset, self.poison_epoch, self.epoch = dataset, epoch, 0

    def set_epoch(self, epoch):
        self.epoch = epoch
        self.dataset.set_epoch(epoch)

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        clip, label = self.dataset[i]
        return (clip * float("nan") if self.epoch >= self.poison_epoch else clip), label


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(synth, tmp_path):
    data = make_train_data(synth, _recipe(), seed=1, use_cache=True)
    genome = _genome(len(data.classes))
    with pytest.raises(TrainingDiverged, match=r"loss became nan at epoch 2, step 1: training stopped; the last good checkpoint \(epoch 1\)"):
        train(_setup(genome, tmp_path), _PoisonedFromEpoch(data.train, 1), data.val, init_runtime())
    kept = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert kept["epoch"] == 1 and all(torch.isfinite(v).all() for v in kept["model"].values() if v.is_floating_point())


def run_cli(*args):
    """The `archspace` command, run in this process: the same code as a user's process
    without importing torch again per call (tests/test_cli.py runs the real entry point)."""
    import contextlib
    import io
    from types import SimpleNamespace

    from archspace.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def run_process(archspace: list[str], *args, **kwargs):
    """The `archspace` command as a process of its own (what its stderr shows a user),
    forked from the training fork server (conftest.py's archspace_training_command)."""
    return subprocess.run([*archspace, *map(str, args)], capture_output=True, text=True, timeout=600, **kwargs)


def test_cli_train_on_data_with_unreadable_files_then_eval(synth, tmp_path, archspace_training_command):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(synth, root)
    broken = sorted((root / "train").rglob("*.mp4"))[:3]
    broken[0].write_bytes(b"")  # zero bytes
    broken[1].write_bytes(b"this is not a video at all")
    broken[2].write_bytes(broken[2].read_bytes()[:200])  # truncated
    # Readable but shorter than the 4-frame clip: found (and padded) only inside a
    # data-loader worker, in both epochs, by two different worker processes.
    short = sorted((root / "train").rglob("*.mp4"))[3]
    write_numbered(short, 2)
    out = tmp_path / "run"
    proc = run_process(archspace_training_command, "train", "--arch", "x3d_xs", "--set", "depths=[1,1,1,1]", "--data",
                       root, "--frames", 4, "--crop", 32, "--epochs", 2, "--batch-size", 8, "--workers", 2, "--out", out)
    assert proc.returncode == 0, proc.stderr
    for path in [*broken, short]:
        assert proc.stderr.count(path.name) == 1, proc.stderr
    assert "data: 4 file(s) skipped or padded (empty 1, padded 1, unreadable 2)" in proc.stderr
    journal = [json.loads(line) for line in (out / "data-problems.jsonl").read_text().splitlines()]
    assert sorted((e["kind"], e["file"]) for e in journal) == sorted(
        [("empty", broken[0].name), ("unreadable", broken[1].name), ("unreadable", broken[2].name),
         ("padded", short.name)])
    metrics = json.loads(proc.stdout.strip().splitlines()[-1])
    assert metrics["epoch"] == 2 and metrics["val_videos"] == 15
    proc = run_process(archspace_training_command, "eval", "--checkpoint", out / "checkpoint.pt", "--data", root,
                       "--clips", 2, "--crops", 3, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["videos"] == 15 and 0 <= result["top1"] <= result["top5"] <= 1
    confusion = json.loads((out / "eval-val-confusion.json").read_text())
    assert sum(map(sum, confusion["matrix"])) == 15 and len(confusion["classes"]) == 15


@pytest.mark.parametrize(
    "args,message",
    [
        (["--recipe", "nope"], "unknown recipe 'nope'; choose from kinetics, ssv2_finetune_from_kinetics, ssv2_scratch"),
        (["--epochs", "0"], "--epochs must be >= 1"),
        (["--device", "tpu"], "unknown device 'tpu'; choose cpu or cuda"),
        (["--recipe-set", "colour=red"], "unknown recipe field 'colour'; allowed: base_lr, batch_size"),
        (["--recipe-set", "warmup_epochs"], "--recipe-set takes KEY=VALUE"),
    ],
)
def test_train_bad_input(synth, tmp_path, args, message):
    proc = run_cli("train", "--arch", "x3d_xs", "--data", synth, "--out", tmp_path / "r", *args)
    assert proc.returncode == 2 and message in proc.stderr and proc.stderr.count("\n") == 1


def test_ddp_with_gloo_two_processes(synth, tmp_path):
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531",
         str(Path(__file__).parent / "ddp_recorded.py"), "train", "--arch", "x3d_xs", "--set", "depths=[1,1,1,1]",
         "--data", str(synth),
         "--frames", "4", "--crop", "32", "--epochs", "2", "--batch-size", "4", "--cache", "--out", str(out)],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in history] == [1, 2]
    assert all(m["val_videos"] == 15 for m in history)  # both shards counted once
    ckpt = torch.load(out / "checkpoint.pt", weights_only=False)
    assert ckpt["epoch"] == 2
    # Both processes joined one group of two and, in every epoch, read disjoint halves
    # of the 30 training videos.
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [(r["group_size"], r["runtime_world_size"], r["train_items"]) for r in ranks] == [(2, 2, 30)] * 2
    for epoch in ("0", "1"):
        first, second = (r["read"][epoch] for r in ranks)
        assert len(first) == len(second) == 15 and sorted(first + second) == list(range(30)), epoch


def test_proxy_trainable_reports_every_epoch_from_the_cache(synth):
    from archspace.train.proxy import ProxyBudget, stratified_indices, train_proxy

    seen = []
    genome = preset("vov3d_m").replace(depths=(1, 1, 1, 1), modules=2)
    metrics = train_proxy(genome, synth, ProxyBudget(epochs=2, frames=4, crop=32, fraction=0.5, batch_size=8),
                          report=seen.append, seed=2)
    assert [m["epoch"] for m in seen] == [1, 2] and metrics == seen[-1]
    assert metrics["val_videos"] == 15 and 0 <= metrics["val_top1"] <= 1
    # per class, named, from the same evaluation (an experiment splits accuracy with these)
    assert len(metrics["val_classes"]) == len(metrics["val_class_hits"]) == len(metrics["val_class_videos"])
    assert sum(metrics["val_class_videos"]) == 15
    assert sum(metrics["val_class_hits"]) == round(metrics["val_top1"] * 15)
    picked = stratified_indices([0, 0, 0, 0, 1, 1, 2, 2, 2, 2], 0.5, seed=0)
    assert len(picked) == 5 and sorted({[0, 0, 0, 0, 1, 1, 2, 2, 2, 2][i] for i in picked}) == [0, 1, 2]
    assert picked == stratified_indices([0, 0, 0, 0, 1, 1, 2, 2, 2, 2], 0.5, seed=0)


def test_fine_tune_from_converted_pytorchvideo_weights(synth, tmp_path):
    from archspace.models.convert import convert_checkpoint
    from pytorchvideo_ref import create_x3d

    torch.manual_seed(0)
    theirs = create_x3d(input_clip_length=4, input_crop_size=32, depth_factor=1.0, model_num_class=400,
                        head_activation=None)
    torch.save({"model_state": theirs.state_dict()}, tmp_path / "x3d_k400.pyth")
    kinetics = preset("x3d_xs").replace(depths=(1, 2, 5, 3), frames=4, crop=32, train_crop=32, classes=400)
    proc = run_cli("convert", "--from", "pytorchvideo", tmp_path / "x3d_k400.pyth", "--arch", "x3d_xs",
                   "--set", "depths=[1,2,5,3]", "--frames", 4, "--crop", 32, "--train-crop", 32,
                   "--out", tmp_path / "k400.pt")
    assert proc.returncode == 0, proc.stderr
    assert "filled as identity: stage2.block0.shortcut.bn" in proc.stderr
    assert archspace.load_model(tmp_path / "k400.pt").genome == kinetics
    proc = run_cli("train", "--arch", "x3d_xs", "--set", "depths=[1,2,5,3]", "--data", synth, "--frames", 4,
                   "--crop", 32, "--epochs", 1, "--batch-size", 8, "--cache", "--init", tmp_path / "k400.pt",
                   "--recipe", "ssv2_finetune_from_kinetics", "--out", tmp_path / "ft")
    assert proc.returncode == 0, proc.stderr
    # Everything but the 400-way classifier is taken; the classifier is named as left out.
    assert "shape mismatch, left as initialised: head.classifier.fc.bias, head.classifier.fc.weight" in proc.stderr
    tuned = torch.load(tmp_path / "ft" / "checkpoint.pt", weights_only=False)
    assert tuned["recipe"]["schedule"] == "steps" and tuned["epoch"] == 1


# ----------------------------------------------------------------------------- issue 12: resume, classes, predict


def test_resume_names_what_differs_extends_step_schedules_and_says_where_it_stands(synth, tmp_path, capsys):
    data = make_train_data(synth, _recipe(1), seed=1, use_cache=True)
    genome = _genome(len(data.classes))
    with pytest.raises(archspace.UserError, match="--resume: .*nope does not exist, so there is no run to continue"):
        train(_setup(genome, tmp_path / "nope", epochs=1, resume=True), data.train, data.val, init_runtime())
    assert not (tmp_path / "nope").exists()
    train(_setup(genome, tmp_path / "cos", epochs=1), data.train, data.val, init_runtime())
    other = TrainSetup(genome, _recipe(1).replace(base_lr=0.5), epochs=1, batch_size=4, seed=2,
                       out=tmp_path / "cos", resume=True, progress=False)
    with pytest.raises(archspace.UserError, match=r"other settings \(recipe base_lr 0.1 -> 0.5, seed 1 -> 2, "
                                                  r"batch size 8 -> 4\)"):
        train(other, data.train, data.val, init_runtime())
    with pytest.raises(archspace.UserError, match=r"planned for 1 epochs and its cosine schedule spans exactly "
                                                  r"those; --epochs 2 would change the learning rate"):
        train(_setup(genome, tmp_path / "cos", epochs=2, resume=True), data.train, data.val, init_runtime())
    capsys.readouterr()
    finished = _setup(genome, tmp_path / "cos", epochs=1, resume=True)
    finished.progress = True
    last = train(finished, data.train, data.val, init_runtime())
    assert f"{tmp_path / 'cos'}: finished all 1 epochs; nothing left to train" in capsys.readouterr().err
    assert last == read_checkpoint(tmp_path / "cos" / "checkpoint.pt")["history"][-1]  # the run's last metrics

    # A step schedule does not depend on the total: a finished run can be extended.
    steps = load_recipe("ssv2_scratch").with_size(4, 32).replace(epochs=1, schedule="steps", steps=[1])
    train(TrainSetup(genome, steps, epochs=1, batch_size=8, seed=1, out=tmp_path / "st", progress=False),
          data.train, data.val, init_runtime())
    longer = steps.replace(epochs=2)
    metrics = train(TrainSetup(genome, longer, epochs=2, batch_size=8, seed=1, out=tmp_path / "st", resume=True),
                    data.train, data.val, init_runtime())
    assert metrics["epoch"] == 2 and f"resuming {tmp_path / 'st'} from epoch 1 of 2" in capsys.readouterr().err
    straight = train(TrainSetup(genome, longer, epochs=2, batch_size=8, seed=1, out=tmp_path / "st2", progress=False),
                     data.train, data.val, init_runtime())
    timing = ("train_clips_per_s", "epoch_s")
    assert {k: v for k, v in metrics.items() if k not in timing} == {k: v for k, v in straight.items() if k not in timing}


@pytest.fixture(scope="module")
def trained(synth, tmp_path_factory, archspace_training_command):
    """A one-epoch run made by the CLI under umask 022: the run folder."""
    out = tmp_path_factory.mktemp("trained") / "run"
    proc = run_process(archspace_training_command, "train", "--arch", "x3d_xs", "--set", "depths=[1,1,1,1]", "--data",
                       synth, "--frames", 4, "--crop", 32, "--epochs", 1, "--batch-size", 8, "--out", out, umask=0o022)
    assert proc.returncode == 0, proc.stderr
    return out


def test_run_files_are_readable_by_others(trained):
    import stat

    for name in ("checkpoint.pt", "metrics.jsonl"):
        assert stat.S_IMODE((trained / name).stat().st_mode) == 0o644, name


def test_checkpoint_keeps_class_names_and_data_fingerprint_as_plain_values(synth, trained, tmp_path):
    from archspace.data.layouts import read_layout

    saved = torch.load(trained / "checkpoint.pt", weights_only=False)
    classes = read_layout(synth).classes
    assert saved["classes"] == classes and len(classes) == 15
    assert saved["data"]["root"] == str(synth.resolve()) and saved["data"]["layout"] == "folder"
    assert len(saved["data"]["fingerprint"]) == 16
    # plain lists and strings: readable by torch.load(weights_only=True)
    torch.save({"classes": saved["classes"], "data": saved["data"]}, tmp_path / "plain.pt")
    assert torch.load(tmp_path / "plain.pt", weights_only=True) == {"classes": classes, "data": saved["data"]}
    assert archspace.load_model(trained / "checkpoint.pt").classes == classes


def test_eval_refuses_other_classes_unless_mapped_and_states_its_views(synth, trained, tmp_path):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(synth, other)
    for split in ("train", "val"):
        (other / split / "jittering").rename(other / split / "zz_jittering")
    proc = run_cli("eval", "--checkpoint", trained / "checkpoint.pt", "--data", other, "--clips", 1, "--crops", 1)
    assert proc.returncode == 2 and proc.stderr == (
        f"archspace: error: {other} has other classes than the checkpoint (1 not trained on (e.g. zz_jittering); "
        "1 of the checkpoint's missing (e.g. jittering)); pass --map-classes to match them by name\n")
    proc = run_cli("eval", "--checkpoint", trained / "checkpoint.pt", "--data", other, "--clips", 2, "--crops", 1,
                   "--map-classes", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert "left out the videos of 1 class(es) the checkpoint was not trained on: zz_jittering" in proc.stderr
    assert result["videos"] == 14 and (result["clips"], result["crops"], result["views"]) == (2, 1, 2)
    assert result["per_class"]["jittering"] is None and "zz_jittering" not in result["per_class"]
    assert json.loads((trained / "eval-val.json").read_text())["views"] == 2


def test_train_classes_must_match_the_data(synth, tmp_path):
    proc = run_cli("train", "--arch", "x3d_xs", "--data", synth, "--classes", 10, "--out", tmp_path / "r")
    assert proc.returncode == 2 and proc.stderr == (
        f"archspace: error: --classes 10, but {synth} has 15 classes; drop --classes (training takes the data's classes)\n")


def test_predict_top_k_of_single_videos(synth, trained):
    videos = sorted((synth / "val").rglob("*.mp4"))[:2]
    proc = run_cli("predict", "--checkpoint", trained / "checkpoint.pt", *videos, "--top-k", 3, "--clips", 2,
                   "--crops", 3, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["clips"], result["crops"]) == (2, 3) and [r["video"] for r in result["predictions"]] == list(map(str, videos))
    # the judge: the same views through the eval path's dataset and evaluate()'s averaging
    from archspace.data.dataset import VideoDataset
    from archspace.train.data import test_views
    from archspace.train.recipe import Recipe

    saved = torch.load(trained / "checkpoint.pt", weights_only=False)
    model = archspace.load_model(trained / "checkpoint.pt")
    sampler, transform = test_views(Recipe.from_dict(saved["recipe"]), 2, 3)
    ds = VideoDataset(synth, "val", sampler=sampler, transform=transform)
    for row, video in zip(result["predictions"], videos):
        clips, _ = ds[[e.path for e in ds.entries].index(video)]
        with torch.no_grad():
            probs = torch.softmax(model(clips), 1).mean(0)
        top = probs.topk(3)
        assert [t["class"] for t in row["top"]] == [saved["classes"][i] for i in top.indices.tolist()]
        assert [t["probability"] for t in row["top"]] == pytest.approx(top.values.tolist(), abs=1e-6)
    proc = run_cli("predict", "--checkpoint", trained / "checkpoint.pt", videos[0], "--top-k", 2)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and lines[0] == f"{videos[0]} (2 clips x 3 crops)" and len(lines) == 3
    proc = run_cli("predict", "--checkpoint", trained / "checkpoint.pt", synth / "synth.json")
    assert proc.returncode == 2 and proc.stderr.startswith(f"archspace: error: cannot read video {synth / 'synth.json'}: ")
    assert proc.stderr.count("\n") == 1
