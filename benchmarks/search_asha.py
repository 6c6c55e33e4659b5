"""Does ASHA pay, and how much of a search's time is not training?

Runs the same space, seed and trial count twice, with ASHA and without (every trial to
the full proxy budget), side by side on this machine, and prints one JSON object:

    train_s_asha, train_s_full   seconds of trial training (references excluded)
    compute_ratio                train_s_full / train_s_asha (target >= 3)
    epochs_asha, epochs_full, epoch_ratio   the same counted in epochs trained
    best_asha, best_full         best proxy accuracy of a fully trained trial (target: within 2 points)
    wall_s_*, outside_training_share_*   the share of wall time x concurrency not spent training
                                 (Ray start, scheduling, sampling, storage; target < 10%)

    .venv/bin/python benchmarks/search_asha.py [--space search_spaces/vov3d.yaml] [--trials 12] [--seed 0]
        [--epochs E --grace G --reduction-factor R --rung-mean-epochs K] [--no-references] [--keep DIR]
        [--concurrency K] [--device cuda --gpus-per-trial F] [--resume]

--keep DIR --resume continues an interrupted benchmark (Ctrl-C, or a session that ended)
in DIR: each run goes on from its study. A resumed run's wall_s and outside-training
share would cover only the last attempt, so they are printed as null; its ASHA starts
with empty rungs (Ray keeps no scheduler state across runs), which can only lower the
compute ratio.

References are trained once before the timed runs (they are cached per proxy settings),
so both runs measure the searched trials alone (--no-references skips them).

What ASHA can save is bounded by the proxy, not by the scheduler's settings alone. Ray's
ASHA never stops the first trial to reach a rung and keeps any trial at or above the
rung's (1 - 1/R) quantile so far, so with few trials many early ones go through. The
default proxy (4 epochs) shows signal from about epoch 2-3 (~100 SGD steps); a rung
before that prunes at random, and one rung at epoch 2 of 4 leaves little to save
(benchmarks/asha_simulation.py, Ray's rule replayed on simulated searches, gives a median
of 1.36x at 8 trials). Where ASHA pays here, measured (README, "Benchmarks"):

    --epochs 24 --grace 3 --reduction-factor 3 --rung-mean-epochs 3 --trials 20 --no-references

Its run without ASHA trains 456 epochs, about 70 minutes of both cores (11-33 s an epoch
per trial, two at a time); --keep DIR keeps it, and a copy of its folder as DIR/full in a
later benchmark's --keep folder (with --resume) is reused as it is (training is
deterministic), so that only the ASHA run trains. Rungs that read one epoch's accuracy
lost the eventual best genome there (grace 2: best 0.300 against 0.457); the mean of 3
kept it. A cheaper proxy does not shorten the run much: 4 x 32^2 at width 0.25 still
takes 13 s an epoch (data and evaluation dominate) and was at chance after 4 epochs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
from pathlib import Path

from archspace.search.run import SearchOptions, run_search
from archspace.search.space import load_space


def trained(df):
    """The searched trials that trained (not references, not reused duplicates)."""
    return df[~df["reference"] & df["reused_from"].isna()]


def trained_seconds(df) -> float:
    return float(trained(df)["wall_s"].fillna(0).sum())


def trained_epochs(df) -> int:
    return int(trained(df)["epochs"].fillna(0).sum())


def best(df) -> float:
    done = df[~df["reference"] & (df["state"] == "complete")]
    return float(done["accuracy"].max()) if len(done) else float("nan")


def resuming(run: Path, args) -> bool:
    """Whether --resume was given and `run` holds a search to continue."""
    return args.resume and (run / "space.yaml").exists()


def finished(result, args):
    """The run's result; on Ctrl-C, how to continue the benchmark, and exit 130."""
    if result.interrupted:
        if args.keep:
            again = " ".join(sys.argv[1:]) + ("" if args.resume else " --resume")
            print(f"interrupted; continue with: python benchmarks/search_asha.py {again}", file=sys.stderr)
        else:
            print("interrupted; its runs were in a temporary folder (give --keep DIR to continue one)", file=sys.stderr)
        raise SystemExit(130)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="search_spaces/vov3d.yaml")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--epochs", type=int, help="proxy epochs (default: the space's)")
    parser.add_argument("--grace", type=int, help="ASHA's first rung in epochs (default: the space's)")
    parser.add_argument("--reduction-factor", type=int, help="ASHA's reduction factor (default: the space's)")
    parser.add_argument("--rung-mean-epochs", type=int, help="ASHA compares the mean accuracy of this many last "
                        "epochs at a rung (default: the space's)")
    parser.add_argument("--no-references", action="store_true", help="train no reference presets")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda with --gpus-per-trial")
    parser.add_argument("--gpus-per-trial", type=float, default=0.0)
    parser.add_argument("--keep", metavar="DIR", help="write the runs under DIR and keep them (default: a temporary folder)")
    parser.add_argument("--resume", action="store_true", help="with --keep: continue the runs an interrupted benchmark left in DIR")
    args = parser.parse_args()
    if args.resume and not args.keep:
        parser.error("--resume continues the runs in --keep DIR; give --keep")
    space = load_space(args.space)
    if args.epochs:
        space.proxy = dataclasses.replace(space.proxy, epochs=args.epochs)
    space.search = dataclasses.replace(space.search, grace_epochs=args.grace or space.search.grace_epochs,
                                       reduction_factor=args.reduction_factor or space.search.reduction_factor,
                                       rung_mean_epochs=args.rung_mean_epochs or space.search.rung_mean_epochs)
    if args.no_references:
        space.references = ()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="search-asha-"))
    folder.mkdir(parents=True, exist_ok=True)
    where = dict(device=args.device, gpus_per_trial=args.gpus_per_trial)
    out = {"space": args.space, **where, "trials": args.trials, "seed": args.seed, "epochs": space.proxy.epochs,
           "grace": space.search.grace_epochs, "reduction_factor": space.search.reduction_factor,
           "rung_mean_epochs": space.search.rung_mean_epochs}
    try:
        # references first, untimed: both runs below then find them in the cache
        if space.references:
            finished(run_search(space, SearchOptions(name="refs", out=str(folder / "refs"), trials=1, seed=args.seed,
                                                     concurrency=args.concurrency, progress=False,
                                                     resume=resuming(folder / "refs", args), **where)),
                     args)
        for scheduler, label in (("asha", "asha"), ("none", "full")):
            # no time budget: both runs train every trial (the space's budget would cut the slower one)
            resumed = resuming(folder / label, args)
            result = finished(run_search(space, SearchOptions(name=label, out=str(folder / label), trials=args.trials,
                                                              seed=args.seed, scheduler=scheduler,
                                                              time_budget_s=float("inf"), concurrency=args.concurrency,
                                                              progress=False, resume=resumed, **where)), args)
            df = result.table
            out[f"train_s_{label}"] = trained_seconds(df)
            out[f"epochs_{label}"] = trained_epochs(df)
            out[f"best_{label}"] = best(df)
            out[f"wall_s_{label}"] = None if resumed else result.summary["wall_s"]
            out[f"outside_training_share_{label}"] = None if resumed else result.summary["outside_training_share"]
            out[f"pruned_{label}"] = result.summary["counts"]["pruned"]
            out[f"resumed_{label}"] = resumed
        out["compute_ratio"] = out["train_s_full"] / out["train_s_asha"]
        # the same in epochs trained: what the seconds measure, without what else ran beside
        out["epoch_ratio"] = out["epochs_full"] / out["epochs_asha"]
        out["concurrency"] = result.summary["concurrency"]
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
