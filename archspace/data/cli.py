"""`archspace data ...`: synth, info and cache verbs, thin over archspace.data."""

from __future__ import annotations

import argparse
import json

_SYNTH_EXAMPLE = """example:
  archspace data synth --out data/synth --videos-per-class 20
  archspace data synth --out data/ssv2-like --layout ssv2 --seed 1

Classes differ only in motion; see `python -c "import archspace.data.synth as s; help(s)"`.
Re-running with the same settings skips videos already written."""

_INFO_EXAMPLE = """example:
  archspace data info data/synth
  archspace data info data/synth --classes          # every class name with its label
  archspace data info /datasets/kinetics400 --layout kinetics --json"""

_CACHE_EXAMPLE = """example:
  archspace data cache data/synth --split train --frames 8 --size 64

Writes <DIR>/.archspace-cache/<split>-<frames>x<size>-<key>/ (or under --cache-dir);
a re-run reuses it, an interrupted build resumes."""


def register(sub, name: str = "data") -> None:
    """Add the `data` verb and its sub-verbs to the top-level sub-parsers."""
    data = sub.add_parser(name, help="video data: synthetic benchmark, data set info, clip cache",
                          description="Video data: synthetic benchmark, data set info, clip cache.")
    verbs = data.add_subparsers(dest="data_command", required=True, parser_class=type(data))

    p = verbs.add_parser("synth", help="write the synthetic temporal benchmark as real video files",
                         description="Write the synthetic temporal benchmark (real encoded videos + annotations).",
                         epilog=_SYNTH_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="folder to write into")
    p.add_argument("--videos-per-class", type=int, default=20, help="training videos per class (default 20)")
    p.add_argument("--val-videos-per-class", type=int, default=None,
                   help="validation videos per class (default: a quarter of --videos-per-class, at least 1)")
    p.add_argument("--frames", type=int, default=32, help="frames per video (default 32)")
    p.add_argument("--size", type=int, default=64, help="frame width and height in pixels, even (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--codec", choices=("h264", "vp9"), default=None,
                   help="h264 (.mp4, default for folder) or vp9 (.webm, default and only choice for ssv2)")
    p.add_argument("--layout", choices=("folder", "ssv2"), default="folder")
    p.add_argument("--scene", choices=("standard", "easy"), default="standard",
                   help="easy: larger objects, no distractors or texture (short proxy trainings); default standard")
    p.add_argument("--workers", type=int, default=None,
                   help="processes that render and encode (default: one per CPU core from 300 videos on, else 1); "
                        "the files do not depend on it")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(run=_run_synth)

    p = verbs.add_parser("info", help="layout, classes, videos per split, frame/size statistics, unreadable files",
                         description="Describe a data folder: layout, classes, videos per split, statistics, "
                                     "unreadable files.",
                         epilog=_INFO_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", help="the data folder")
    p.add_argument("--layout", choices=("ssv2", "kinetics", "folder"), default=None,
                   help="skip auto-detection")
    p.add_argument("--classes", action="store_true", help="list every class name with its label (default: the first 8)")
    p.add_argument("--json", action="store_true", help="print JSON (layout, num_classes, videos, unreadable, ...)")
    p.set_defaults(run=_run_info)

    p = verbs.add_parser("cache", help="decode a split once into a memory-mapped clip cache",
                         description="Decode a split into a memory-mapped uint8 clip cache for proxy training.",
                         epilog=_CACHE_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", help="the data folder")
    p.add_argument("--split", default="train", help="train or val (default train)")
    p.add_argument("--frames", type=int, default=8, help="frames per clip, segment centres (default 8)")
    p.add_argument("--size", type=int, default=64, help="frame size after short-side resize and centre crop")
    p.add_argument("--layout", choices=("ssv2", "kinetics", "folder"), default=None)
    p.add_argument("--cache-dir", default=None, help="where caches live (default DIR/.archspace-cache)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_run_cache)


def _run_synth(args) -> int:
    from archspace.data.synth import generate

    summary = generate(args.out, videos_per_class=args.videos_per_class,
                       val_videos_per_class=args.val_videos_per_class, frames=args.frames, size=args.size,
                       seed=args.seed, codec=args.codec, layout=args.layout, progress=True,
                       scene=args.scene, workers=args.workers)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"wrote {summary['written']} videos ({summary['skipped']} already there) to {summary['out']}: "
              f"{summary['classes']} classes, {summary['videos']['train']} train / {summary['videos']['val']} val, "
              f"{summary['layout']} layout, {summary['codec']}")
    return 0


def _run_info(args) -> int:
    from archspace.data.info import dataset_info, format_info

    info = dataset_info(args.dir, args.layout, progress=not args.json)
    print(json.dumps(info) if args.json else format_info(info, all_classes=args.classes))
    return 0


def _run_cache(args) -> int:
    from archspace.data.cache import ClipCache

    cache = ClipCache.build(args.dir, args.split, frames=args.frames, size=args.size, layout=args.layout,
                            cache_dir=args.cache_dir, progress=True)
    summary = {"path": str(cache.path), "clips": len(cache), "shape": list(cache.clips.shape),
               "unreadable": [u["file"] for u in cache.unreadable], "padded": cache.meta["padded"]}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{cache.path}: {len(cache)} clips {tuple(cache.clips.shape)}, "
              f"{len(summary['unreadable'])} unreadable left out, {len(summary['padded'])} padded")
    return 0
