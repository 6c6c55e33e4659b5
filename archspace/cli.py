"""The `archspace` command: parses arguments and calls the Python API, nothing more.

Every verb lives in a module of its own layer and registers its parser through
archspace.cli_args; this file only lists the verbs, in one table.
"""

from __future__ import annotations

import importlib
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
    "convert": "archspace.train.cli:register_convert",
    "export-weights": "archspace.train.cli:register_export_weights",
    "space": "archspace.search.cli:register_space",
    "search": "archspace.search.cli:register_search",
    "export": "archspace.search.cli:register_export",
}


def build_parser() -> Parser:
    parser = Parser(prog="archspace", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for verb, target in VERBS.items():
        module, function = target.split(":")
        getattr(importlib.import_module(module), function)(sub, verb)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except UserError as exc:
        # One line naming the problem; the message already says what is allowed.
        print(f"archspace: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("archspace: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
