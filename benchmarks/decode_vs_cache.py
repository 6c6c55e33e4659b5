"""Clips per second: decoding videos with PyAV vs reading the clip cache, at proxy settings.

Both paths give the same training item: 8 frames (random frame per segment when
decoding; segment centres in the cache), short side jittered, random crop, normalised
(3, 8, 56, 56) float tensors. Also measured: each path without the transform (decode
only vs. copying from the memory map), and the one-off cache build time. Same process,
same data, best of --repeats passes. Prints one JSON object.

    PYTHONPATH=. python benchmarks/decode_vs_cache.py
    PYTHONPATH=. python benchmarks/decode_vs_cache.py --data data/synth --frames 8 --size 64
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from archspace.data import synth
from archspace.data.cache import CachedClipDataset, ClipCache
from archspace.data.dataset import VideoDataset
from archspace.data.samplers import SegmentSampler
from archspace.data.transforms import TrainTransform


def clips_per_second(get, n: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(n):
            get(i)
        best = min(best, time.perf_counter() - start)
    return n / best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="data folder (default: a fresh synthetic set in a temp dir)")
    parser.add_argument("--videos-per-class", type=int, default=8, help="for the generated set")
    parser.add_argument("--video-frames", type=int, default=32, help="frames per generated video")
    parser.add_argument("--video-size", type=int, default=128, help="frame size of generated videos")
    parser.add_argument("--frames", type=int, default=8, help="clip frames")
    parser.add_argument("--size", type=int, default=64, help="cache frame size / short side")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a data worker uses one)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.data) if args.data else Path(tmp) / "synth"
        if not args.data:
            synth.generate(root, videos_per_class=args.videos_per_class, val_videos_per_class=1,
                           frames=args.video_frames, size=args.video_size, seed=0, progress=False)
        crop = args.size - args.size // 8
        transform = TrainTransform(crop, short_side=(args.size, args.size + args.size // 8))
        decoded = VideoDataset(root, "train", sampler=SegmentSampler(args.frames), transform=transform)
        raw = VideoDataset(root, "train", sampler=SegmentSampler(args.frames))
        n = len(decoded)
        start = time.perf_counter()
        cache = ClipCache.build(root, "train", frames=args.frames, size=args.size, cache_dir=Path(tmp) / "cache",
                                progress=False)
        build_s = time.perf_counter() - start
        cached = CachedClipDataset(cache, transform)
        rng = np.random.default_rng(0)
        decode_rate = clips_per_second(lambda i: decoded[i], n, args.repeats)
        cache_rate = clips_per_second(lambda i: cached[i], n, args.repeats)
        decode_only = clips_per_second(lambda i: raw.load_frames(i, rng), n, args.repeats)
        read_only = clips_per_second(lambda i: np.array(cache.clips[i]), n, args.repeats)
        info = decoded.index.entries("train")[0]
        from archspace.data.decode import probe

        video = probe(info.path)
    result = {
        "benchmark": "decode_vs_cache",
        "videos": n,
        "video": f"{video.frames} frames {video.width}x{video.height} {info.path.suffix[1:]}",
        "clip": f"{args.frames}x{crop}x{crop}",
        "decode_clips_per_s": round(decode_rate, 1),
        "cache_clips_per_s": round(cache_rate, 1),
        "ratio_cache_over_decode": round(cache_rate / decode_rate, 2),
        "decode_only_clips_per_s": round(decode_only, 1),
        "cache_read_only_clips_per_s": round(read_only, 1),
        "ratio_read_only": round(read_only / decode_only, 2),
        "cache_build_s": round(build_s, 2),
        "torch_threads": args.threads,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
