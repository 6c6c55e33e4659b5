"""What compute ratio can ASHA give a search of N trials? A simulation of Ray Tune's rule.

Ray's ASHAScheduler (one bracket) records a trial's accuracy when it first reaches a rung
(grace * rf^k epochs) and stops it there if it is below the (1 - 1/rf) quantile of what
that rung has recorded so far; the first trial at a rung is never stopped. With few
trials many early ones go through, so the saving is well below the ideal. This replays
that rule on simulated searches (trials of random cost per epoch, a true quality, and a
noisy reading of it at each rung; `concurrency` trials at once) and prints one JSON
object per setting: the compute ratio (every epoch of every trial against the epochs ASHA
let run) and how often the best trial was among those trained fully.

    python benchmarks/asha_simulation.py --trials 8 --epochs 4 --grace 2 --reduction-factor 3
    python benchmarks/asha_simulation.py --trials 12 --epochs 48 --grace 3 --reduction-factor 4

No training and no Ray: seconds. It says what to expect before spending hours on
benchmarks/search_asha.py, which measures the real thing. --replay RUN replays the rule
on the real curves of a search that trained every trial fully (search_asha.py's run
without ASHA): what ASHA at other settings would have kept, and at what compute.

    python benchmarks/asha_simulation.py --replay runs/asha-bench/full --grace 2 --reduction-factor 3 --smooth 1 3
"""

from __future__ import annotations

import argparse
import heapq
import json

import numpy as np

from archspace.search.trial import rung_accuracy


def rungs(epochs: int, grace: int, rf: int) -> list[int]:
    out, milestone = [], grace
    while milestone < epochs:  # a rung at max_t itself stops nothing
        out.append(milestone)
        milestone *= rf
    return out


def asha(cost, read, epochs: int, grace: int, rf: int, concurrency: int) -> tuple[np.ndarray, dict[int, int]]:
    """Ray's rule over trials launched in order, `concurrency` at once: trial i costs
    cost[i] seconds an epoch and reads read(i, epoch) at a rung. Returns the seconds each
    trial used and the epoch each one ended at."""
    trials = len(cost)
    recorded = {m: [] for m in rungs(epochs, grace, rf)}
    used = np.zeros(trials)
    finished_at: dict[int, int] = {}
    events: list = []
    launched = 0
    for _ in range(min(concurrency, trials)):
        heapq.heappush(events, (cost[launched], launched, 1))
        launched += 1
    while events:
        now, i, epoch = heapq.heappop(events)
        used[i] += cost[i]
        stop = False
        if epoch in recorded:
            reading = read(i, epoch)
            seen = recorded[epoch]
            stop = bool(seen) and reading < np.nanpercentile(seen, (1 - 1 / rf) * 100)
            seen.append(reading)
        if stop or epoch >= epochs:
            finished_at[i] = epoch
            if launched < trials:
                heapq.heappush(events, (now + cost[launched], launched, 1))
                launched += 1
        else:
            heapq.heappush(events, (now + cost[i], i, epoch + 1))
    return used, finished_at


def simulate(trials: int, epochs: int, grace: int, rf: int, concurrency: int, noise: float, rng) -> dict:
    cost = rng.uniform(0.5, 1.5, trials)  # seconds per epoch
    quality = rng.normal(0.0, 1.0, trials)
    used, finished_at = asha(cost, lambda i, epoch: quality[i] + rng.normal(0.0, noise), epochs, grace, rf, concurrency)
    full = [i for i, e in finished_at.items() if e >= epochs]
    return {"ratio": float((cost * epochs).sum() / used.sum()), "best_kept": int(np.argmax(quality)) in full}


def replay(curves: list[list[float]], cost, grace: int, rf: int, concurrency: int, smooth: int = 1) -> dict:
    """Ray's rule on real accuracy curves (every trial of a search trained fully): what ASHA
    would have trained, its best final accuracy against the best of all, and the compute
    ratio. With smooth k a rung reads what a trial reports with rung_mean_epochs k. Exact
    where training is deterministic (the same genome and seed give the same curve: seen
    in search_asha.py's two runs) and trials launch in order."""
    epochs = len(curves[0])
    used, finished_at = asha(np.asarray(cost), lambda i, e: rung_accuracy(curves[i][:e], smooth), epochs, grace, rf,
                             concurrency)
    finals = [c[-1] for c in curves]
    full = [i for i, e in finished_at.items() if e >= epochs]
    return {"grace": grace, "reduction_factor": rf, "smooth": smooth, "rungs": rungs(epochs, grace, rf),
            "compute_ratio": round(float(sum(cost) * epochs / used.sum()), 2),
            "trained_fully": len(full), "best_asha": max(finals[i] for i in full), "best_full": max(finals),
            "best_kept": int(np.argmax(finals)) in full, "ended_at": [finished_at[i] for i in range(len(curves))]}


def replay_run(folder: str, settings: list[tuple[int, int, int]], concurrency: int) -> None:
    """Replay each (grace, rf, smooth) on the trials a search without ASHA trained fully."""
    import pandas as pd

    df = pd.read_csv(f"{folder}/trials.csv").sort_values("trial")
    df = df[~df["reference"] & df["reused_from"].isna() & (df["state"] == "complete")]
    curves = [json.loads(c) for c in df["accuracy_by_epoch"]]
    cost = (df["wall_s"] / df["epochs"]).tolist()
    for grace, rf, smooth in settings:
        print(json.dumps({"trials": len(curves), **replay(curves, cost, grace, rf, concurrency, smooth)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[8, 12, 16])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--grace", type=int, default=2)
    parser.add_argument("--reduction-factor", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--noise", type=float, default=0.3, help="reading noise, in units of the quality spread")
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--replay", metavar="RUN", help="a search run without ASHA (e.g. search_asha.py --keep DIR's "
                        "DIR/full): replay the rule on its real curves instead of simulating")
    parser.add_argument("--smooth", type=int, nargs="+", default=[1], help="with --replay: rungs read the mean of "
                        "the last k epochs")
    args = parser.parse_args()
    if args.replay:
        replay_run(args.replay, [(args.grace, args.reduction_factor, k) for k in args.smooth], args.concurrency)
        return
    for n in args.trials:
        rng = np.random.default_rng(args.seed)
        runs = [simulate(n, args.epochs, args.grace, args.reduction_factor, args.concurrency, args.noise, rng)
                for _ in range(args.runs)]
        ratios = np.array([r["ratio"] for r in runs])
        print(json.dumps({"trials": n, "epochs": args.epochs, "grace": args.grace, "reduction_factor": args.reduction_factor,
                          "rungs": rungs(args.epochs, args.grace, args.reduction_factor),
                          "ratio_median": round(float(np.median(ratios)), 2),
                          "ratio_p10": round(float(np.percentile(ratios, 10)), 2),
                          "best_kept": round(float(np.mean([r["best_kept"] for r in runs])), 2)}))


if __name__ == "__main__":
    main()
