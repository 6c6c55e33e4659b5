"""`archspace space show`, `archspace search` and `archspace export`: parse, then call
archspace.search."""

from __future__ import annotations

import argparse
import json
import sys

from archspace.cli_args import add_address_argument


_SEARCH_EXAMPLE = """examples:
  archspace search --space search_spaces/vov3d.yaml
  archspace search --space search_spaces/x3d.yaml --trials 40 --concurrency 4 --time-budget 2h
  archspace search --space search_spaces/vov3d.yaml --name vov3d --resume     # after Ctrl-C or a crash
  archspace search --space search_spaces/vov3d.yaml --address HEAD_IP:6379    # an existing Ray cluster

Writes runs/NAME/: study.db (the Optuna study), trials.csv and trials.parquet (one row
per trial, rewritten as trials finish), space.yaml, search.json and, at the end,
report.html (the interactive report of `archspace plot`)."""


def register_space(sub, name: str) -> None:
    p = sub.add_parser(name, help="inspect a search space file",
                       description="Inspect a search space file (search_spaces/*.yaml).")
    verbs = p.add_subparsers(dest="space_command", required=True, parser_class=type(p))
    show = verbs.add_parser(
        "show", help="knobs, size, cost range and feasible genomes of a space, counted exactly",
        description="The knobs, the number of distinct genomes, the GFLOPs and params range at the target "
        "input and how many genomes meet the constraints, counted exactly with the cost model (or estimated "
        "from a seeded sample, labelled as such, when the space is too big to enumerate in --time-limit).",
        epilog="example: archspace space show search_spaces/vov3d.yaml --json")
    show.add_argument("file", metavar="FILE.yaml", help="the space file")
    show.add_argument("--time-limit", type=float, default=60.0, help="seconds of exact enumeration before estimating (default 60)")
    show.add_argument("--sample", type=int, default=20000, help="genomes in the estimate's sample (default 20000)")
    show.add_argument("--seed", type=int, default=0, help="the estimate's sampling seed")
    show.add_argument("--json", action="store_true", help="print one JSON object (size, feasible, exact, ...)")
    show.set_defaults(run=_run_space_show)


def _run_space_show(args) -> int:
    from archspace.search.space import format_summary, load_space

    space = load_space(args.file)
    summary = space.summary(time_limit_s=args.time_limit, sample=args.sample, seed=args.seed)
    print(json.dumps(summary) if args.json else format_summary(space, summary))
    return 0


def register_search(sub, name: str) -> None:
    p = sub.add_parser(
        name, help="search a design space: Optuna proposes, Ray Tune trains proxy trials, ASHA prunes",
        description="Search the space of a YAML file: an Optuna study proposes genomes that meet the "
        "constraints (checked with the exact cost model), Ray Tune trains them on the proxy task with ASHA, "
        "and the Pareto front of accuracy against cost is printed. Options override the file's search section.",
        epilog=_SEARCH_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--space", required=True, metavar="FILE.yaml", help="the space file (e.g. search_spaces/vov3d.yaml)")
    p.add_argument("--name", help="study and run name (default: the space file's name)")
    p.add_argument("--out", help="run folder (default runs/NAME)")
    p.add_argument("--trials", type=int, help="trials to run (default: the space's search.trials)")
    p.add_argument("--concurrency", type=int, help="trials at once (default: the space's)")
    p.add_argument("--time-budget", help="stop launching trials after this long, e.g. 15m, 2h (running ones finish)")
    p.add_argument("--seed", type=int, help="sampler and training seed (default: the space's)")
    p.add_argument("--data", metavar="DIR", help="proxy data folder (default: the space's proxy.data; 'synth' generates it)")
    add_address_argument(p)
    p.add_argument("--storage", help="Optuna storage: an RDB URL (default sqlite:///runs/NAME/study.db) or a journal file (.log)")
    p.add_argument("--scheduler", choices=("asha", "none"), help="early stopping of weak trials (default: the space's)")
    p.add_argument("--resume", action="store_true", help="continue the search in the run folder (after Ctrl-C or a kill)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda, for every trial")
    p.add_argument("--gpus-per-trial", type=float, default=0.0, help="GPUs per trial with --device cuda (fractions share a GPU)")
    p.add_argument("--json", action="store_true", help="print the summary and the front as one JSON object")
    p.set_defaults(run=_run_search)


def _run_search(args) -> int:
    from archspace.search.run import SearchOptions, parse_duration, run_search
    from archspace.search.table import searched_front
    from archspace.search.space import load_space

    space = load_space(args.space)
    options = SearchOptions(
        name=args.name, out=args.out, trials=args.trials, concurrency=args.concurrency,
        time_budget_s=parse_duration(args.time_budget) if args.time_budget else None, seed=args.seed,
        data=args.data, address=args.address, storage=args.storage, scheduler=args.scheduler, resume=args.resume, device=args.device,
        gpus_per_trial=args.gpus_per_trial, progress=True)
    result = run_search(space, options)
    objectives = dict(space.objectives)
    front = searched_front(result.table, objectives)
    if args.json:
        print(json.dumps({"summary": result.summary, "front": front.to_dict("records")}, default=str))
    else:
        print(format_front(result.table, front, objectives))
        print(f"results: {result.out / 'trials.csv'}, {result.out / 'trials.parquet'}, study {result.summary['storage']}")
        print(f"report: {result.out / 'report.html'} (archspace plot {result.out} --live rewrites it during a search)")
    if result.interrupted:
        resume = f"archspace search --space {args.space} --name {result.summary['name']}"
        resume += f" --out {args.out}" if args.out else ""
        print(f"archspace: interrupted; finished trials are kept. Resume with: {resume} --resume", file=sys.stderr)
        return 130
    return 0


def format_front(df, front, objectives: dict) -> str:
    cost = next((k for k in objectives if k != "accuracy"), "gflops")
    refs = df[df["reference"] & (df["state"] == "complete")]
    chance = 1 / df["proxy_classes"].dropna().iloc[0] if df["proxy_classes"].notna().any() else None
    lines = [f"Pareto front: accuracy vs {cost} ({len(front)} of {int((~df['reference']).sum())} trials, "
             f"{int(((~df['reference']) & (df['state'] == 'complete')).sum())} complete; "
             f"* = reference preset{f', chance {chance:.3f}' if chance else ''})",
             f"  {'':<2}{'trial':>7}  {cost:>10}  {'params_m':>9}  {'accuracy':>8}  genome"]
    shown = [("", r) for _, r in front.iterrows()] + [("*", r) for _, r in refs.iterrows()]
    shown.sort(key=lambda item: item[1][cost] if item[1][cost] == item[1][cost] else float("inf"))
    for mark, r in shown:
        label = r["preset"] if mark else _knob_text(r, df)
        trial = "-" if mark else str(r["trial"])
        lines.append(f"  {mark:<2}{trial:>7}  {r[cost]:>10.3f}  {r['params_m']:>9.3f}  {r['accuracy']:>8.3f}  {label}")
    return "\n".join(lines)


def _knob_text(row, df) -> str:
    from archspace.search.table import COLUMNS

    knobs = [c for c in df.columns if c not in COLUMNS]
    return ", ".join(f"{k}={row[k]}" for k in knobs if row[k] is not None and row[k] == row[k])


def register_export(sub, name: str) -> None:
    p = sub.add_parser(
        name, help="write chosen genomes of a search as YAML files for cost/train",
        description="Write the genomes of a search's Pareto front (or its top K by accuracy) as genome YAML "
        "files that `archspace cost --genome` and `archspace train --genome` take.",
        epilog="example: archspace export runs/vov3d --front --out chosen/ && "
        "archspace train --genome chosen/trial-0007.yaml --data data/synth --out runs/full-7")
    p.add_argument("run_dir", metavar="RUN", help="a search run folder (holds trials.parquet or trials.csv)")
    pick = p.add_mutually_exclusive_group()
    pick.add_argument("--front", action="store_true", help="the Pareto front (default)")
    pick.add_argument("--top", type=int, metavar="K", help="the K most accurate complete trials")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the YAML files")
    p.set_defaults(run=_run_export)


def _run_export(args) -> int:
    from archspace.search.export import export_genomes

    written = export_genomes(args.run_dir, args.out, top=args.top)
    for path in written:
        print(path)
    return 0
