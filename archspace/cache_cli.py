"""`archspace cache list|clear`: the cache folder's contents and sizes, and removing it."""

from __future__ import annotations

import argparse
import json

_EXAMPLE = """example:
  archspace cache list                 # $ARCHSPACE_CACHE or ./.archspace-cache
  archspace cache list data/synth      # the clip caches of a data folder
  archspace cache clear                # remove it (everything in it can be made again)"""


def register(sub, name: str) -> None:
    p = sub.add_parser(name, help="what lies in the archspace cache folder, its size, and removing it",
                       description="List or remove the archspace cache folder: generated proxy data, clip "
                       "caches, reference results and latencies.",
                       epilog=_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = p.add_subparsers(dest="cache_command", required=True, parser_class=type(p))
    for verb, text, run in (("list", "entries with their size", _run_list), ("clear", "remove the folder", _run_clear)):
        q = verbs.add_parser(verb, help=text, description=f"The cache folder: {text}.", epilog=_EXAMPLE,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        q.add_argument("dir", nargs="?", help="a data folder or a .archspace-cache folder "
                       "(default: $ARCHSPACE_CACHE or ./.archspace-cache)")
        q.add_argument("--json", action="store_true", help="print one JSON object")
        q.set_defaults(run=run)


def _run_list(args) -> int:
    from archspace.cachedir import cache_folder, list_cache, mib

    folder = cache_folder(args.dir)
    entries = list_cache(folder)
    total = sum(e.bytes for e in entries)
    if args.json:
        print(json.dumps({"folder": str(folder), "bytes": total,
                          "entries": [{"name": e.name, "bytes": e.bytes, "what": e.what} for e in entries]}))
        return 0
    if not folder.is_dir():
        print(f"{folder}: no cache folder")
        return 0
    width = max([len(e.name) for e in entries] + [4])
    for e in entries:
        print(f"{e.name:<{width}}  {mib(e.bytes):>12}  {e.what}")
    print(f"{folder}: {len(entries)} entries, {mib(total)}")
    return 0


def _run_clear(args) -> int:
    from archspace.cachedir import cache_folder, clear_cache, mib

    folder = cache_folder(args.dir)
    existed = folder.is_dir()
    freed = clear_cache(folder)
    if args.json:
        print(json.dumps({"folder": str(folder), "removed": existed, "freed_bytes": freed}))
    else:
        print(f"removed {folder} ({mib(freed)})" if existed else f"{folder}: no cache folder, nothing removed")
    return 0
