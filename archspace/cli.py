"""The `archspace` command: parses arguments and calls the Python API, nothing more.

Every verb lives in a module of its own layer and registers its parser through
archspace.cli_args; this file only lists the verbs, in one table.
"""

from __future__ import annotations

import importlib
import os
import sys

from archspace.cli_args import Parser
from archspace.errors import UserError

# verb -> "module:register function"; the function adds the verb's parser. Verb modules
# import their heavy dependencies (torch, ray, optuna) only when the verb runs.
VERBS: dict[str, str] = {
    "cost": "archspace.genome_cli:register_cost",
    "presets": "archspace.genome_cli:register_presets",
    "genome": "archspace.genome_cli:register_genome",
    "data": "archspace.data.cli:register",
    "train": "archspace.train.cli:register_train",
    "eval": "archspace.train.cli:register_eval",
    "predict": "archspace.train.cli:register_predict",
    "convert": "archspace.train.cli:register_convert",
    "export-weights": "archspace.train.cli:register_export_weights",
    "space": "archspace.search.cli:register_space",
    "search": "archspace.search.cli:register_search",
    "export": "archspace.search.cli:register_export",
    "experiment": "archspace.experiment.cli:register",
    "plot": "archspace.analysis.cli:register_plot",
    "compare": "archspace.analysis.cli:register_compare",
    "cache": "archspace.cache_cli:register",
}


def build_parser() -> Parser:
    from archspace.version import __version__

    parser = Parser(prog="archspace", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"archspace {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for verb, target in VERBS.items():
        module, function = target.split(":")
        getattr(importlib.import_module(module), function)(sub, verb)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # bad usage (2, its line already printed) or --help (0): a code, as for the rest
        return int(exc.code or 0)
    try:
        code = int(args.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the try, not at exit
        return code
    except UserError as exc:
        # One line naming the problem; the message already says what is allowed.
        print(f"archspace: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("archspace: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader left (`archspace cost | head -1`): stop quietly, as Unix tools do.
        # stdout goes to /dev/null so that flushing it at exit raises nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the pipe


if __name__ == "__main__":
    sys.exit(main())
