"""`archspace plot` and `archspace compare`: parse, then call archspace.analysis.report."""

from __future__ import annotations

import argparse

from archspace.analysis.trials import COSTS

_PLOT_EXAMPLE = """examples:
  archspace plot runs/vov3d                          # writes runs/vov3d/report.html
  archspace plot runs/vov3d --x params_m --out vov3d-params.html
  archspace plot runs/vov3d --live                   # rewrite it as trials finish, until the search ends

One HTML file that opens with no network: accuracy against GFLOPs, params and latency
with the front, pruned and failed trials and the reference presets; hover for knobs and
costs, click for the genome YAML and the train command; error EDFs per knob, plain and
normalised; the knobs in parallel coordinates; learning curves; hypervolume history."""


def register_plot(sub, name: str) -> None:
    p = sub.add_parser(name, help="the HTML report of a search run: fronts, EDFs, knobs, learning curves",
                       description="Write the interactive report of a search run (its trials table) as one "
                       "self-contained HTML file.", epilog=_PLOT_EXAMPLE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", metavar="RUN", help="a search run folder (holds trials.parquet or trials.csv)")
    p.add_argument("--out", metavar="FILE.html", help="the report file (default RUN/report.html)")
    p.add_argument("--x", choices=COSTS, help="the cost of the first figure and of the normalised EDFs "
                   "(default: the run's first cost objective)")
    p.add_argument("--live", action="store_true", help="rewrite the report whenever the trials table changes, "
                   "until the search ends (Ctrl-C stops)")
    p.add_argument("--interval", type=float, default=2.0, help=argparse.SUPPRESS)  # seconds between looks (--live)
    p.set_defaults(run=_run_plot)


def _run_plot(args) -> int:
    from archspace.analysis.report import watch, write_report

    if args.live:
        path = watch(args.run_dir, args.out, args.x, interval=args.interval)
    else:
        path = write_report(args.run_dir, args.out, args.x)
    print(path)
    return 0


def register_compare(sub, name: str) -> None:
    p = sub.add_parser(name, help="one HTML report comparing several search runs",
                       description="Fronts, hypervolumes (on one reference point) and error EDFs of several "
                       "search runs in one self-contained HTML file.",
                       epilog="example: archspace compare runs/vov3d runs/x3d --out vov3d-vs-x3d.html")
    p.add_argument("run_dirs", nargs="+", metavar="RUN", help="search run folders (two or more)")
    p.add_argument("--out", required=True, metavar="FILE.html", help="the report file")
    p.add_argument("--x", choices=COSTS, help="the cost axis of the hypervolumes and normalised EDFs (default gflops)")
    p.set_defaults(run=_run_compare)


def _run_compare(args) -> int:
    from archspace.analysis.report import write_compare

    print(write_compare(args.run_dirs, args.out, args.x))
    return 0
