"""`archspace space show` on a space of about a million genomes: the exact summary's speed.

Prints one JSON object:
  size            distinct genomes in the space (933,120)
  exact           whether every genome was counted within the time limit
  seconds         wall time of Space.summary (cold: no stage seen yet)
  genomes_per_s   size / seconds
  full_counts     genomes that needed a full `cost.count` (a stage not seen before)
  count_s         median time of one `cost.count` of a genome of the space, as a baseline
  ratio           genomes_per_s * count_s: how many times faster than counting each genome

usage: python benchmarks/space_show.py [--time-limit 120]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from archspace.cost import count
from archspace.search.space import Space

# VoV3D around M and L: 6 widths x 4 module counts x 10 (block, inter) x 3 SE ratios x
# 2 temporal kernels x 2 frame counts x 3 crops x 108 per-stage depth patterns.
MILLION = {
    "base": "vov3d_m",
    "knobs": {
        "width": {"low": 24, "high": 64, "step": 8},
        "depths.0": {"low": 1, "high": 2},
        "depths.1": {"low": 1, "high": 3},
        "depths.2": {"low": 1, "high": 6},
        "depths.3": {"low": 1, "high": 3},
        "modules": {"low": 3, "high": 6},
        "block": {"choices": ["d2p1d", "dw", "d1p2d", "r2plus1d"]},
        "inter": {"choices": ["none", "relu", "bn_relu"]},
        "se_ratio": {"choices": [0.0, 0.0625, 0.25]},
        "temporal_kernel": {"choices": [3, 5]},
        "frames": {"choices": [8, 16]},
        "crop": {"choices": [160, 224, 256]},
    },
    "target": {"frames": 16, "crop": 224, "classes": 174},
    "constraints": {"max_gflops": 12},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=120.0, help="summary time limit, seconds")
    args = parser.parse_args()
    space = Space.from_dict(MILLION, path="million")
    start = time.perf_counter()
    summary = space.summary(time_limit_s=args.time_limit)
    seconds = time.perf_counter() - start

    rng = random.Random(0)
    genomes = [space.genome(space.random_knobs(rng)) for _ in range(200)]
    times = []
    for genome in genomes:
        t = time.perf_counter()
        count(genome)
        times.append(time.perf_counter() - t)
    count_s = statistics.median(times)
    print(
        json.dumps(
            dict(
                size=summary["size"],
                exact=summary["exact"],
                feasible=summary["feasible"],
                seconds=round(seconds, 2),
                genomes_per_s=round(summary["size"] / seconds),
                full_counts=space._memo.counts,  # private: how often the stage memo missed
                count_s=count_s,
                ratio=round(summary["size"] / seconds * count_s, 1),
            ),
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
