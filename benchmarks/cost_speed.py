"""Analytical cost model vs fvcore: speed of one count, and genomes costed per second.

Prints one JSON object:
  analytical_s   median time of `archspace.count` on vov3d_m 16 x 224^2, repeated in this
                 process as a notebook or a search does (block plans and costs are cached)
  fvcore_s       median time of `FlopCountAnalysis(model.eval(), clip).total()` on the same,
                 already built network, repeated likewise (building it is not charged)
  ratio          fvcore_s / analytical_s, both measured here in this process
  analytical_cold_s, ratio_cold
                 the same with every cache cleared before each count: what a fresh
                 `archspace cost` process pays for the count
  genomes_per_s  random full-size genomes (both families, all blocks) drawn, validated and
                 costed per second, as a search would, caches warm as they would be
  genomes_s      seconds for --genomes of them (target: 100,000 in under 60 s, one core)

usage: python benchmarks/cost_speed.py [--genomes 100000] [--repeats 200]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import time

from archspace import count, preset
from archspace.cost import clear_caches
from archspace.genome import random_genome


def time_analytical(genome, repeats: int, cold: bool) -> float:
    times = []
    clear_caches()
    count(genome)
    for _ in range(repeats):
        if cold:
            clear_caches()
        start = time.perf_counter()
        count(genome)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_fvcore(genome, repeats: int) -> float:
    import torch
    from fvcore.nn import FlopCountAnalysis

    from archspace.models import build_model

    logging.getLogger("fvcore").setLevel(logging.ERROR)
    torch.set_num_threads(1)
    model = build_model(genome).eval()
    clip = torch.zeros(1, 3, genome.frames, genome.crop, genome.crop)
    times, totals = [], set()
    for _ in range(repeats):
        start = time.perf_counter()
        analysis = FlopCountAnalysis(model, clip)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        totals.add(analysis.total())
        times.append(time.perf_counter() - start)
    assert totals == {count(genome).flops}, "fvcore and the analytical count disagree"
    return statistics.median(times)


def time_random_genomes(n: int, seed: int = 0) -> float:
    rng = random.Random(seed)
    clear_caches()
    start = time.perf_counter()
    for _ in range(n):
        count(random_genome(rng))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--genomes", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--fvcore-repeats", type=int, default=3)
    args = parser.parse_args()

    genome = preset("vov3d_m")  # 16 x 224^2
    analytical_s = time_analytical(genome, args.repeats, cold=False)
    analytical_cold_s = time_analytical(genome, args.repeats, cold=True)
    fvcore_s = time_fvcore(genome, args.fvcore_repeats)
    genomes_s = time_random_genomes(args.genomes)
    print(
        json.dumps(
            {
                "analytical_s": analytical_s,
                "fvcore_s": fvcore_s,
                "ratio": fvcore_s / analytical_s,
                "analytical_cold_s": analytical_cold_s,
                "ratio_cold": fvcore_s / analytical_cold_s,
                "genomes_per_s": args.genomes / genomes_s,
                "genomes": args.genomes,
                "genomes_s": genomes_s,
            }
        )
    )


if __name__ == "__main__":
    main()
