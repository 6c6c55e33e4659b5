"""X3D-M training and inference throughput: archspace vs pytorchvideo's create_x3d.

Both networks have the same architecture (X3D-M: width 2.0, depth 2.2, 400 classes),
see the same random clips at the same thread count, and run side by side in this one
process, alternating, so that machine noise hits both alike. Training is forward +
backward + SGD step; inference is a forward pass under torch.inference_mode.

Prints one JSON object:
  archspace_train_clips_s, pytorchvideo_train_clips_s, train_ratio (archspace / pytorchvideo),
  archspace_infer_clips_s, pytorchvideo_infer_clips_s, infer_ratio,
  and the settings (frames, crop, batch, threads, archspace_layout).

archspace runs as build_model leaves it: on the CPU its VideoNet puts the clips in
channels_last_3d (see archspace/models/build.py); --archspace-layout contiguous measures
it in the default layout instead. pytorchvideo always runs as it comes.

usage: python benchmarks/train_speed.py [--frames 16] [--crop 112] [--batch 4] [--threads 2]
       [--rounds 3] [--repeats 2] [--archspace-layout auto|contiguous]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pytorchvideo_ref import create_x3d  # noqa: E402

from archspace import build_model, preset  # noqa: E402


def train_step_fn(model, clips, labels):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        loss = torch.nn.functional.cross_entropy(model(clips), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def infer_fn(model, clips):
    def step():
        with torch.inference_mode():
            model(clips)

    return step


def timed(step, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--crop", type=int, default=112)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--archspace-layout", choices=("auto", "contiguous"), default="auto",
                        help="auto: as build_model sets it (channels_last_3d for X3D on the CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    genome = preset("x3d_m").replace(frames=args.frames, crop=args.crop, train_crop=args.crop)
    ours = build_model(genome)
    theirs = create_x3d(input_clip_length=args.frames, input_crop_size=args.crop, depth_factor=2.2,
                        model_num_class=400, head_activation=None)
    clips = torch.randn(args.batch, 3, args.frames, args.crop, args.crop)
    labels = torch.randint(0, 400, (args.batch,))
    if args.archspace_layout == "contiguous":
        ours.cpu_channels_last = False

    results = {}
    for mode in ("train", "infer"):
        for model in (ours, theirs):
            model.train(mode == "train")
        steps = {
            "archspace": train_step_fn(ours, clips, labels) if mode == "train" else infer_fn(ours, clips),
            "pytorchvideo": train_step_fn(theirs, clips, labels) if mode == "train" else infer_fn(theirs, clips),
        }
        for step in steps.values():
            step()  # warm-up: oneDNN primitives, allocator
        times = {name: [] for name in steps}
        for _ in range(args.rounds):
            for name, step in steps.items():
                times[name].append(timed(step, args.repeats))
        for name in steps:
            results[f"{name}_{mode}_clips_s"] = args.batch / statistics.median(times[name])
        results[f"{mode}_ratio"] = results[f"archspace_{mode}_clips_s"] / results[f"pytorchvideo_{mode}_clips_s"]
    results.update(frames=args.frames, crop=args.crop, batch=args.batch, threads=args.threads,
                   archspace_layout="channels_last_3d" if ours.cpu_channels_last else "contiguous", torch=torch.__version__)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
