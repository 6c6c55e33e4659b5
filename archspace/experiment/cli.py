"""`archspace experiment`: parse, then call archspace.experiment."""

from __future__ import annotations

import argparse
import sys

from archspace.cli_args import add_address_argument

_EXAMPLE = """examples:
  archspace experiment experiments/table6.yaml                    # 3 seeds at the full proxy budget
  archspace experiment experiments/table6.yaml --budget quick     # tiny data, 1 epoch: minutes
  archspace experiment experiments/proxy_fidelity.yaml --resume   # after Ctrl-C or kill -9
  archspace experiment experiments/table5.yaml --address HEAD_IP:6379 --concurrency 8

Writes runs/NAME/ (runs/NAME-quick/ for --budget quick): results.csv (one row per genome
and proxy), results.md (the paper's table with the published figures beside ours),
trials.csv/.parquet (one row per training), experiment.json and report.html."""


def register(sub, name: str) -> None:
    p = sub.add_parser(
        name, help="train a declared list of genomes with seeds and report them as the paper's tables",
        description="Run an experiment file (experiments/*.yaml): every genome with every seed and proxy of the "
        "budget, trained through the search's Ray runner, never one (genome, proxy, seed) twice; then results.csv, "
        "results.md and report.html.", epilog=_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="EXPERIMENT.yaml", help="the experiment file")
    p.add_argument("--seeds", type=int, help="seeds per genome, 0..N-1 (default: the file's)")
    p.add_argument("--budget", choices=("quick", "full"), default="full",
                   help="full (default): the file's proxies; quick: tiny data, one epoch, for a smoke run")
    p.add_argument("--resume", action="store_true", help="continue the run in the run folder")
    p.add_argument("--concurrency", type=int, default=2, help="trainings at once (default 2)")
    add_address_argument(p)
    p.add_argument("--out", metavar="DIR", help="run folder (default runs/NAME, runs/NAME-quick for --budget quick)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda (one GPU per training)")
    p.set_defaults(run=_run)


def _run(args) -> int:
    from archspace.experiment.run import ExperimentOptions, run_experiment
    from archspace.experiment.spec import load_experiment

    exp = load_experiment(args.file)
    options = ExperimentOptions(seeds=args.seeds, budget=args.budget, resume=args.resume,
                                concurrency=args.concurrency, address=args.address, out=args.out,
                                device=args.device)
    result = run_experiment(exp, options)
    print((result.out / "results.md").read_text(), end="")
    print(f"results: {result.out / 'results.csv'}, {result.out / 'results.md'}"
          + (f", {result.out / 'report.html'}" if (result.out / "report.html").exists() else ""))
    if result.interrupted:
        resume = f"archspace experiment {args.file} --budget {args.budget}" + (f" --out {args.out}" if args.out else "")
        print(f"archspace: interrupted; finished trainings are kept. Resume with: {resume} --resume", file=sys.stderr)
        return 130
    return 0
