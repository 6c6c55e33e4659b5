"""Is the synthetic benchmark temporal? Train the same model on frames in order and on
frames shuffled within each clip, and compare accuracy on the order/tempo pair classes.

If only appearance mattered, shuffling would cost nothing. On this benchmark a model
that sees shuffled frames cannot tell a pair apart (e.g. moving left vs right), so its
accuracy on the paired classes should fall towards half of the in-order model's.

    PYTHONPATH=. python experiments/temporal_evidence.py            # ~5-10 min on 2 CPU cores
    PYTHONPATH=. python experiments/temporal_evidence.py --epochs 2 --videos-per-class 8   # smoke run

Generates the benchmark (resumable) under --data, reads clips from the clip cache, and
prints one JSON object. --model vov3d trains a small VoV3D genome instead of the default
shallow Conv3d net (depthwise 3D convs are slow on CPU: use it where a GPU is).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from archspace.data import synth
from archspace.data.cache import CachedClipDataset, ClipCache
from archspace.data.transforms import TestTransform, TrainTransform


def shallow_cnn(classes: int) -> nn.Module:
    """Four 3x3x3 conv layers (temporal kernel 3, time kept), global pool, linear."""

    def block(cin, cout, stride):
        return nn.Sequential(nn.Conv3d(cin, cout, 3, stride=(1, stride, stride), padding=1, bias=False),
                             nn.BatchNorm3d(cout), nn.ReLU(inplace=True))

    return nn.Sequential(block(3, 24, 2), block(24, 48, 2), block(48, 96, 2), block(96, 96, 1),
                         nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(96, classes))


def small_vov3d(classes: int, frames: int, crop: int) -> nn.Module:
    import archspace
    from archspace.genome import vov3d_genome

    genome = vov3d_genome(16, (1, 1, 1, 1), modules=2, frames=frames, crop=crop, train_crop=crop,
                          classes=classes, fc_width=256, dropout=0.2)
    return archspace.build_model(genome)


def shuffle_frames(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Permute the T axis of each (C, T, H, W) clip in a batch (N, C, T, H, W) independently."""
    n, _, t = x.shape[:3]
    order = torch.stack([torch.randperm(t, generator=gen) for _ in range(n)])
    return x[torch.arange(n)[:, None], :, order].permute(0, 2, 1, 3, 4)


def batches(dataset, indices, batch_size):
    for start in range(0, len(indices), batch_size):
        items = [dataset[int(i)] for i in indices[start : start + batch_size]]
        yield torch.stack([c for c, _ in items]), torch.tensor([l for _, l in items])


def run(train_cache, val_cache, shuffled: bool, args) -> dict:
    torch.manual_seed(args.seed)
    crop = args.size - args.size // 8
    classes = len(train_cache.classes)
    model = shallow_cnn(classes) if args.model == "cnn" else small_vov3d(classes, args.frames, crop)
    train_set = CachedClipDataset(train_cache, TrainTransform(crop, short_side=(args.size, args.size + args.size // 8)),
                                  seed=args.seed)
    val_set = CachedClipDataset(val_cache, TestTransform(crop, short_side=args.size))
    steps = args.epochs * -(-len(train_set) // args.batch)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps, pct_start=0.15)
    gen = torch.Generator().manual_seed(args.seed + 1)
    order_rng = np.random.default_rng(args.seed)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        train_set.set_epoch(epoch)
        total, count = 0.0, 0
        for x, y in batches(train_set, order_rng.permutation(len(train_set)), args.batch):
            if shuffled:
                x = shuffle_frames(x, gen)
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total, count = total + loss.item() * len(y), count + len(y)
        print(f"{'shuffled' if shuffled else 'in order'} epoch {epoch + 1}/{args.epochs} "
              f"loss {total / count:.3f} ({time.time() - t0:.0f}s)", file=sys.stderr)
    model.eval()
    preds, labels = [], []
    eval_gen = torch.Generator().manual_seed(args.seed + 2)
    with torch.no_grad():
        for x, y in batches(val_set, np.arange(len(val_set)), args.batch):
            x = x[:, 0]  # one crop
            if shuffled:
                x = shuffle_frames(x, eval_gen)
            preds.append(model(x).argmax(1))
            labels.append(y)
    pred, label = torch.cat(preds).numpy(), torch.cat(labels).numpy()
    names = train_cache.classes
    paired = np.array([names[l] in synth.PAIRED_CLASSES for l in label])
    partner = {i: names.index(c.pair) for i, c in enumerate(synth.CLASSES) if c.pair}
    to_partner = np.array([partner.get(int(l)) == int(p) for l, p in zip(label, pred)])
    by_kind = {}
    for kind in ("order", "tempo"):
        mask = np.array([synth.CLASSES[l].pair_kind == kind for l in label])
        by_kind[kind] = round(float((pred[mask] == label[mask]).mean()), 4)
    return {
        "accuracy": round(float((pred == label).mean()), 4),
        "paired_accuracy": round(float((pred[paired] == label[paired]).mean()), 4),
        "order_pair_accuracy": by_kind["order"],
        "tempo_pair_accuracy": by_kind["tempo"],
        "unpaired_accuracy": round(float((pred[~paired] == label[~paired]).mean()), 4),
        "paired_predicted_as_partner": round(float(to_partner[paired].mean()), 4),
        "train_seconds": round(time.time() - t0, 1),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/synth-temporal", help="benchmark folder (made if absent)")
    parser.add_argument("--videos-per-class", type=int, default=96)
    parser.add_argument("--val-videos-per-class", type=int, default=24)
    parser.add_argument("--frames", type=int, default=8, help="frames per clip (segment centres)")
    parser.add_argument("--size", type=int, default=32, help="cached frame size")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-4, help="peak of the one-cycle schedule (3e-3 does not learn)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", choices=("cnn", "vov3d"), default="cnn")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    synth.generate(args.data, videos_per_class=args.videos_per_class, val_videos_per_class=args.val_videos_per_class,
                   frames=32, size=64, seed=args.seed)
    train_cache = ClipCache.build(args.data, "train", frames=args.frames, size=args.size)
    val_cache = ClipCache.build(args.data, "val", frames=args.frames, size=args.size)
    results = {"in_order": run(train_cache, val_cache, False, args),
               "shuffled": run(train_cache, val_cache, True, args)}
    out = {"experiment": "temporal_evidence", "model": args.model, "train_clips": len(train_cache),
           "val_clips": len(val_cache), "classes": len(train_cache.classes),
           "paired_classes": len(synth.PAIRED_CLASSES), "frames": args.frames, "size": args.size,
           "epochs": args.epochs, "seed": args.seed, **results,
           "paired_accuracy_gap": round(results["in_order"]["paired_accuracy"] - results["shuffled"]["paired_accuracy"], 4)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
