"""The training loop: epochs of SGD under a recipe's schedule, validation after each,
metrics to JSONL, an atomic checkpoint per epoch, exact resume.

Exact resume: the data order of an epoch comes from (seed, epoch), every random choice
of a data item from (seed, epoch, index) (see archspace.data), and the global RNGs are
saved with each checkpoint, so a run stopped and resumed ends where an uninterrupted
run ends.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from archspace.errors import UserError
from archspace.genome import Genome
from archspace.io import make_folder, write_text_atomic
from archspace.models import build_model
from archspace.checkpoint import CHECKPOINT, read_checkpoint, rng_state, save_checkpoint, set_rng_state
from archspace.train.device import Runtime
from archspace.train.evaluate import evaluate
from archspace.train.recipe import Recipe, lr_at

METRICS = "metrics.jsonl"
PROBLEMS = "data-problems.jsonl"  # bad files met by any process, data-loader workers included


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class TrainSetup:
    genome: Genome
    recipe: Recipe
    epochs: int
    batch_size: int
    seed: int = 0
    workers: int = 0
    out: Optional[Path] = None  # None: no files (proxy trials that report through a callback)
    resume: bool = False
    init: Optional[Path] = None  # weights to start from (fine-tuning)
    compile: bool = False
    progress: bool = True
    eval_batch_size: int = 16
    classes: Optional[list[str]] = None  # class names (index = label), kept in the checkpoint
    data: Optional[dict] = None  # the data set trained on (root, layout, fingerprint), ditto


def train(
    setup: TrainSetup,
    train_set,
    val_set,
    runtime: Runtime,
    on_epoch_end: Optional[Callable[[dict], None]] = None,
) -> dict:
    """Train `setup.genome` on `train_set`, validating on `val_set` after every epoch.

    Items of train_set are (clip (C,T,H,W) float, label); both sets may have
    `set_epoch(epoch)`. Returns the last epoch's metrics. `on_epoch_end(metrics)` is
    called after each epoch (and its checkpoint). Raises TrainingDiverged on a NaN loss
    and UserError for an --out folder that holds a different run.
    """
    s = setup
    genome = s.genome.replace(dropout=s.recipe.dropout)
    checkpoint = s.out / CHECKPOINT if s.out else None
    saved = _saved_run(checkpoint, s, genome) if checkpoint is not None else None
    if saved is not None and saved["epoch"] >= s.epochs:
        # finished: nothing to build (an optimizer's first use alone imports torch._dynamo, ~2 s)
        if runtime.is_main and s.progress:
            print(f"{s.out}: finished all {s.epochs} epochs; nothing left to train", file=sys.stderr)
        return saved["history"][-1]
    torch.manual_seed(s.seed)
    model = build_model(genome, zero_init_final_bn=s.recipe.zero_init_final_bn)
    if s.init is not None:
        load_weights_into(model, s.init)
    peak_lr = s.recipe.lr_for_batch(s.batch_size * runtime.world_size)
    optimizer = _sgd(model, s.recipe, peak_lr)
    start_epoch, history = 0, []
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        set_rng_state(saved["rng"])
        start_epoch, history = saved["epoch"], list(saved["history"])
    if checkpoint is not None:
        make_folder(s.out)
        for ds in (train_set, val_set):
            if hasattr(ds, "problems"):
                ds.problems.share(s.out / PROBLEMS)
    net = runtime.prepare(model, sync_bn=s.recipe.sync_bn, compile=s.compile)

    n = len(train_set)
    steps = math.ceil(math.ceil(n / runtime.world_size) / s.batch_size)
    metrics = history[-1] if history else {}
    if start_epoch and runtime.is_main and s.progress:
        print(f"resuming {s.out} from epoch {start_epoch} of {s.epochs}", file=sys.stderr)
    for epoch in range(start_epoch, s.epochs):
        for ds in (train_set, val_set):
            if hasattr(ds, "set_epoch"):
                ds.set_epoch(epoch)
        order = _epoch_order(n, s.seed, epoch, runtime)
        loader = DataLoader(train_set, batch_size=s.batch_size, sampler=order, num_workers=s.workers,
                            persistent_workers=False, pin_memory=runtime.device.type == "cuda")
        net.train()
        started = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        bar = _bar(steps, f"epoch {epoch + 1}/{s.epochs}", s.progress and runtime.is_main)
        for i, (clips, labels) in enumerate(loader):
            lr = lr_at(s.recipe, epoch + i / steps, epoch * steps + i, peak_lr)
            for group in optimizer.param_groups:
                group["lr"] = lr
            clips, labels = runtime.to_device(clips), labels.to(runtime.device)
            with runtime.autocast():
                logits = net(clips)
            loss = F.cross_entropy(logits.float(), labels, label_smoothing=s.recipe.label_smoothing)
            if not torch.isfinite(loss):
                raise TrainingDiverged(_diverged_message(loss.item(), epoch, i, checkpoint, history))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * labels.shape[0]
            correct += (logits.argmax(1) == labels).sum().item()
            seen += labels.shape[0]
            if bar is not None:
                elapsed = time.perf_counter() - started
                bar.set_postfix(loss=f"{loss.item():.3f}", clips_s=f"{seen * runtime.world_size / elapsed:.1f}", lr=f"{lr:.4f}")
                bar.update(1)
        if bar is not None:
            bar.close()
        train_time = time.perf_counter() - started
        totals = runtime.all_reduce_sum(torch.tensor([loss_sum, correct, seen], dtype=torch.float64))
        val = evaluate(net, val_set, genome.classes, runtime, batch_size=s.eval_batch_size, workers=s.workers,
                       indices=_shard(len(val_set), runtime))
        metrics = {
            "epoch": epoch + 1,
            "lr": lr,
            "train_loss": totals[0].item() / max(1, totals[2].item()),
            "train_top1": totals[1].item() / max(1, totals[2].item()),
            "val_top1": val.top1,
            "val_top5": val.top5,
            "val_loss": val.loss,
            "val_videos": val.videos,
            # per class (index = label): the order/tempo-pair split of an experiment reads these
            "val_class_hits": val.confusion.diag().tolist(),
            "val_class_videos": val.confusion.sum(1).tolist(),
            "train_clips_per_s": totals[2].item() / train_time,
            "epoch_s": time.perf_counter() - started,
        }
        history.append(metrics)
        if checkpoint is not None and runtime.is_main:
            _write_metrics(s.out / METRICS, history)
            save_checkpoint(
                checkpoint,
                genome=genome.to_dict(),
                recipe=s.recipe.to_dict(),
                model=model.state_dict(),
                optimizer=optimizer.state_dict(),
                rng=rng_state(),
                epoch=epoch + 1,
                epochs=s.epochs,
                seed=s.seed,
                batch_size=s.batch_size,
                history=history,
                classes=list(s.classes) if s.classes is not None else None,
                data=s.data,
            )
        runtime.barrier()
        if runtime.is_main and s.progress:
            print(
                f"epoch {epoch + 1}: train loss {metrics['train_loss']:.3f} top1 {metrics['train_top1']:.3f} | "
                f"val top1 {val.top1:.3f} top5 {val.top5:.3f} | {metrics['train_clips_per_s']:.1f} clips/s",
                file=sys.stderr,
            )
        if on_epoch_end is not None:
            on_epoch_end(metrics)
    return metrics


def _diverged_message(loss: float, epoch: int, step: int, checkpoint, history: list) -> str:
    where = f"loss became {loss} at epoch {epoch + 1}, step {step + 1}: training stopped"
    if checkpoint is not None and history:
        return f"{where}; the last good checkpoint (epoch {history[-1]['epoch']}) is kept at {checkpoint}"
    return f"{where} before any checkpoint was written (try a lower learning rate)"


def _sgd(model, recipe: Recipe, lr: float) -> torch.optim.SGD:
    # As PySlowFast: no weight decay on BN parameters and biases.
    decay, no_decay = [], []
    for p in model.parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=lr, momentum=recipe.momentum, nesterov=recipe.nesterov and recipe.momentum > 0)


def _epoch_order(n: int, seed: int, epoch: int, runtime: Runtime) -> list[int]:
    """A permutation fixed by (seed, epoch); each process takes an equal share."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch)).tolist()
    if runtime.world_size > 1:
        per = math.ceil(n / runtime.world_size)
        order = (order * 2)[: per * runtime.world_size]  # equal shares keep DDP in step
        order = order[runtime.rank :: runtime.world_size]
    return order


def _shard(n: int, runtime: Runtime) -> Optional[list[int]]:
    return None if runtime.world_size == 1 else list(range(runtime.rank, n, runtime.world_size))


def _bar(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step", file=sys.stderr, dynamic_ncols=True, leave=False)


def _write_metrics(path: Path, history: list[dict]) -> None:
    write_text_atomic(path, "".join(json.dumps(m) + "\n" for m in history))


def check_run_folder(out: Path, resume: bool) -> None:
    """Before any work: UserError when --out is a file, or when --resume has no run to
    continue (the folder or its checkpoint is missing)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder for the run")
    if resume and not (out / CHECKPOINT).is_file():
        where = "does not exist" if not out.exists() else f"holds no {CHECKPOINT}"
        raise UserError(f"--resume: {out} {where}, so there is no run to continue; drop --resume to start one")


def _saved_run(checkpoint: Path, s: TrainSetup, genome: Genome) -> Optional[dict]:
    """The checkpoint to resume from, checked against this run's genome and settings;
    None for a new run. UserError for a folder that holds a run without --resume, or a
    run made with other settings."""
    check_run_folder(checkpoint.parent, s.resume)
    if not checkpoint.exists():
        return None
    if not s.resume:
        raise UserError(
            f"{checkpoint.parent} already holds a training run: pass --resume to continue it, or choose another --out"
        )
    data = read_checkpoint(checkpoint)
    changed = _changes(data["genome"], genome.to_dict())
    if changed:
        raise UserError(f"the checkpoint in {checkpoint.parent} was trained with another genome "
                        f"({', '.join(changed)}); choose another --out")
    saved_epochs = data["recipe"]["epochs"]
    changed = _changes({**data["recipe"], "epochs": s.recipe.epochs}, s.recipe.to_dict(), "recipe ")
    changed += _changes({"seed": data["seed"], "batch size": data["batch_size"]},
                        {"seed": s.seed, "batch size": s.batch_size})
    if changed:
        raise UserError(f"the checkpoint in {checkpoint.parent} was made with other settings ({', '.join(changed)}); "
                        "resume with the same settings or choose another --out")
    if s.recipe.epochs != saved_epochs and s.recipe.schedule == "cosine" and data["epoch"] > 0:
        # The cosine decays to 0 at the last epoch: another total re-draws the whole curve,
        # so the epochs already run would belong to a different schedule.
        raise UserError(
            f"the run in {checkpoint.parent} was planned for {saved_epochs} epochs and its cosine schedule spans "
            f"exactly those; --epochs {s.recipe.epochs} would change the learning rate of the epochs already run. "
            f"Resume with --epochs {saved_epochs}, or start a new run from its weights with --init {checkpoint}"
        )
    return data


def _changes(old: dict, new: dict, prefix: str = "") -> list[str]:
    """'<prefix>field old -> new' for each field that differs."""
    keys = [k for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k)]
    return [f"{prefix}{k} {old.get(k)!r} -> {new.get(k)!r}" for k in keys]


def load_weights_into(model: torch.nn.Module, path: Path) -> None:
    """Start from another run's weights (fine-tuning): same-shaped tensors are copied;
    missing, unexpected and mis-shaped keys are reported by name."""
    data = read_checkpoint(path)
    own = model.state_dict()
    theirs = data["model"]
    usable = {k: v for k, v in theirs.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(usable, strict=False)
    report = (
        ("missing", sorted(k for k in own if k not in theirs)),
        ("unexpected", sorted(k for k in theirs if k not in own)),
        ("shape mismatch, left as initialised", sorted(k for k in theirs if k in own and own[k].shape != theirs[k].shape)),
    )
    for label, keys in report:
        if keys:
            print(f"init from {path}: {label}: {', '.join(keys)}", file=sys.stderr)
