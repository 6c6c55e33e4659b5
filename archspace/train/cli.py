"""`archspace train`, `eval`, `convert` and `export-weights`: parse, then call the API."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from archspace.cli_args import (
    add_data_arguments,
    add_genome_arguments,
    add_runtime_arguments,
    check_at_least,
    genome_from_args,
    parse_key_values,
)
from archspace.errors import UserError


def register_train(sub, name: str) -> None:
    p = sub.add_parser(
        name,
        help="train a network on a video data set",
        description="Train a preset or genome with a recipe (experiments/recipes/). Checkpoints and "
        "metrics.jsonl go to --out after every epoch; --resume continues exactly.",
        epilog="example: archspace train --arch vov3d_m --data data/synth --frames 8 --crop 64 "
        "--epochs 30 --batch-size 16 --cache --out runs/vov3d_m_synth",
    )
    add_genome_arguments(p)
    add_data_arguments(p)
    p.add_argument("--recipe", default="ssv2_scratch", help="recipe name or YAML file (default ssv2_scratch)")
    p.add_argument("--epochs", type=int, help="override the recipe's epochs")
    p.add_argument("--batch-size", type=int, help="override the recipe's batch (lr scales linearly)")
    p.add_argument("--lr", type=float, help="override the recipe's base lr (at its reference batch)")
    p.add_argument("--recipe-set", dest="recipe_assignments", action="append", default=[], metavar="KEY=VALUE",
                   help="override any recipe field, e.g. --recipe-set warmup_epochs=1")
    p.add_argument("--out", help="run folder (default runs/<arch or genome name>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", help="start from the weights of this archspace checkpoint, run folder or "
                   ".safetensors weights file (fine-tuning)")
    p.add_argument("--cache", action="store_true", help="train from the clip cache (decode once; proxy runs)")
    add_runtime_arguments(p)
    p.set_defaults(run=run_train)


def register_eval(sub, name: str) -> None:
    p = sub.add_parser(
        name,
        help="multi-view testing of a checkpoint",
        description="Test a checkpoint with K clips x 1 or 3 crops per video, softmax averaged. Writes "
        "per-class accuracy and the confusion matrix beside the checkpoint.",
        epilog="example: archspace eval --checkpoint runs/vov3d_m_synth/checkpoint.pt --data data/synth --clips 2 --crops 3 --json",
    )
    _add_checkpoint_and_views(p)
    add_data_arguments(p)
    p.add_argument("--split", default="val", help="split to test (default val)")
    p.add_argument("--batch-size", type=int, default=4, help="videos per batch (default 4)")
    p.add_argument("--map-classes", action="store_true",
                   help="match the data's classes to the checkpoint's by name (another order, or a subset)")
    add_runtime_arguments(p, training=False)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_eval)


def _add_checkpoint_and_views(p) -> None:
    """--checkpoint and the testing views, the same in eval and predict."""
    p.add_argument("--checkpoint", required=True,
                   help="an archspace checkpoint, a run folder (its checkpoint.pt) or a .safetensors weights file")
    p.add_argument("--clips", type=int, help="clips per video (default: the recipe's)")
    p.add_argument("--crops", type=int, choices=(1, 3), help="spatial crops per clip (default: the recipe's)")


def register_predict(sub, name: str) -> None:
    p = sub.add_parser(
        name,
        help="top-k classes of single videos, with a checkpoint",
        description="Classify video files with a checkpoint: K clips x 1 or 3 crops per video (the recipe's "
        "testing views unless given), softmax averaged as in eval; prints the top-k class names and probabilities.",
        epilog="example: archspace predict --checkpoint runs/vov3d_m_synth/checkpoint.pt clip1.mp4 clip2.webm --top-k 3",
    )
    _add_checkpoint_and_views(p)
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files (any container PyAV opens)")
    p.add_argument("--top-k", type=int, default=5, help="classes to show per video (default 5)")
    add_runtime_arguments(p, training=False)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_predict)


def register_convert(sub, name: str) -> None:
    p = sub.add_parser(
        name,
        help="convert pytorchvideo or PySlowFast weights to an archspace checkpoint",
        description="Map X3D weights from pytorchvideo's create_x3d, or PySlowFast-format X3D and VoV3D "
        "checkpoints (or .safetensors files of them), onto the archspace model of a preset or genome. "
        "Files are loaded weights-only: no code in them runs. Nothing is written when weights are "
        "missing, unexpected or mis-shaped, unless --allow-missing.",
        epilog="example: archspace convert --from pytorchvideo X3D_M.pyth --arch x3d_m --out x3d_m_k400.safetensors",
    )
    p.add_argument("--from", dest="source", required=True, help="pytorchvideo or slowfast")
    p.add_argument("source_checkpoint", metavar="CHECKPOINT")
    add_genome_arguments(p)
    p.add_argument("--out", required=True, help="an archspace checkpoint (.pt) or a .safetensors weights file")
    p.add_argument("--allow-missing", action="store_true",
                   help="write the output even when some weights do not fit (those stay as initialised)")
    p.add_argument("--report", metavar="FILE", help="write every missing, unexpected and mis-shaped name to FILE (JSON)")
    p.add_argument("--trust-pickle", action="store_true",
                   help="load a checkpoint that pickles objects beyond tensors and plain types (some PySlowFast "
                   "files do). Unpickling can run any code the file names: use it only for files from people "
                   "you trust, and prefer asking them for a .safetensors file")
    p.set_defaults(run=run_convert)


def register_export_weights(sub, name: str) -> None:
    p = sub.add_parser(
        name,
        help="write a checkpoint's model as a .safetensors weights file",
        description="Write the weights of an archspace checkpoint as .safetensors, with the genome and class "
        "names as metadata: a complete model in a format that holds no code (load_model reads it).",
        epilog="example: archspace export-weights --checkpoint runs/vov3d_m_synth --out vov3d_m_synth.safetensors",
    )
    p.add_argument("--checkpoint", required=True, help="an archspace checkpoint or a run folder")
    p.add_argument("--out", required=True, help="the .safetensors file to write")
    p.set_defaults(run=run_export_weights)


def run_train(args) -> int:
    from archspace.train.device import init_runtime
    from archspace.train.loop import TrainingDiverged, TrainSetup, check_run_folder, train
    from archspace.train.data import make_train_data
    from archspace.train.recipe import load_recipe

    check_at_least(args, {"epochs": 1, "batch_size": 1, "workers": 0})
    genome = genome_from_args(args)
    recipe = load_recipe(args.recipe).with_size(args.frames, args.crop)
    if args.epochs is not None:
        recipe = recipe.replace(epochs=args.epochs)
    if args.lr is not None:
        recipe = recipe.replace(base_lr=args.lr)
    if args.recipe_assignments:
        recipe = recipe.replace(**parse_key_values(args.recipe_assignments, "--recipe-set"))
    batch = args.batch_size or recipe.batch_size
    out = Path(args.out or Path("runs") / (args.arch or Path(args.genome).stem))
    check_run_folder(out, args.resume)  # before the data is read: a wrong --out costs nothing
    data = make_train_data(args.data, recipe, layout=args.layout, seed=args.seed, use_cache=args.cache)
    if args.classes is not None and args.classes != len(data.classes):
        raise UserError(f"--classes {args.classes}, but {args.data} has {len(data.classes)} classes; "
                        "drop --classes (training takes the data's classes)")
    genome = genome.replace(frames=recipe.frames, crop=recipe.crop, train_crop=recipe.crop, classes=len(data.classes))
    runtime = init_runtime(args.device, amp=args.amp, channels_last=args.channels_last)
    setup = TrainSetup(
        genome, recipe, epochs=recipe.epochs, batch_size=batch, seed=args.seed, workers=args.workers, out=out,
        resume=args.resume, init=Path(args.init) if args.init else None, compile=args.compile,
        classes=data.classes, data=data.description(args.data),
    )
    if runtime.is_main:
        print(f"training {args.arch or args.genome} on {args.data} ({len(data.train)} train / {len(data.val)} val videos, "
              f"{len(data.classes)} classes) -> {out}", file=sys.stderr)
    try:
        metrics = train(setup, data.train, data.val, runtime)
    except TrainingDiverged as exc:
        print(f"archspace: error: {exc}", file=sys.stderr)
        return 1
    finally:
        runtime.close()
    if runtime.is_main:
        from archspace.train.loop import PROBLEMS

        report_problems(data.problems, out / PROBLEMS)
        print(json.dumps(metrics))
    return 0


def report_problems(sources, journal: Path | None = None) -> None:
    """One closing line: how many files were skipped or padded, per kind (the first few
    of each kind were named in warnings as they were met; the journal lists them all)."""
    from collections import Counter

    entries = set()
    for source in sources:
        if hasattr(source, "problems"):  # clip caches named theirs when they were built
            source.problems.collect()
            entries.update((e["kind"], e["file"]) for e in source.problems.as_list())
    if entries:
        counts = Counter(kind for kind, _ in entries)
        detail = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))
        where = f"; every one is listed in {journal}" if journal is not None and journal.exists() else ""
        print(f"data: {len(entries)} file(s) skipped or padded ({detail}){where}", file=sys.stderr)


def _open_checkpoint(path, device: str):
    """(model, genome, recipe, class names or None, runtime) of an archspace checkpoint."""
    from archspace.checkpoint import model_from, read_checkpoint
    from archspace.genome import Genome
    from archspace.train.device import init_runtime
    from archspace.train.recipe import Recipe

    data = read_checkpoint(path)
    genome = Genome.from_dict(data["genome"])
    recipe = Recipe.from_dict(data["recipe"]) if "recipe" in data else Recipe().with_size(genome.frames, genome.crop)
    runtime = init_runtime(device)
    model = model_from(data, path).to(runtime.device).eval()
    return model, genome, recipe, data.get("classes"), runtime


def _check_classes(trained: list[str] | None, dataset, args) -> list[str]:
    """The class names to report under; UserError when the data's classes are not the
    checkpoint's (unless --map-classes matches them by name)."""
    from archspace.train.data import map_classes

    found = list(dataset.classes)
    if trained is None:  # a checkpoint from before class names were kept, or converted weights
        return found
    if found == trained:
        return trained
    if not args.map_classes:
        if sorted(found) == sorted(trained):
            detail = "the same names in another order"
        else:
            unknown = [c for c in found if c not in trained]
            absent = [c for c in trained if c not in found]
            detail = "; ".join(part for part in (
                unknown and f"{len(unknown)} not trained on (e.g. {', '.join(unknown[:3])})",
                absent and f"{len(absent)} of the checkpoint's missing (e.g. {', '.join(absent[:3])})") if part)
        raise UserError(f"{args.data} has other classes than the checkpoint ({detail}); "
                        "pass --map-classes to match them by name")
    dropped = map_classes(dataset, trained)
    if dropped:
        print(f"eval: left out the videos of {len(dropped)} class(es) the checkpoint was not trained on: "
              f"{', '.join(dropped[:5])}{' ...' if len(dropped) > 5 else ''}", file=sys.stderr)
    return trained


def run_eval(args) -> int:
    from archspace.io import write_json_atomic
    from archspace.checkpoint import checkpoint_path
    from archspace.train.data import make_test_data
    from archspace.train.evaluate import evaluate

    check_at_least(args, {"clips": 1, "batch_size": 1, "workers": 0})
    model, genome, recipe, trained_classes, runtime = _open_checkpoint(args.checkpoint, args.device)
    dataset = make_test_data(args.data, recipe, split=args.split, layout=args.layout, clips=args.clips, crops=args.crops)
    classes = _check_classes(trained_classes, dataset, args)
    if len(classes) != genome.classes:
        raise UserError(f"the checkpoint has {genome.classes} classes but {args.data} has {len(classes)}")
    out_dir = checkpoint_path(args.checkpoint).parent
    stem = f"eval-{args.split}"
    journal = out_dir / f"{stem}-problems.jsonl"
    journal.unlink(missing_ok=True)  # this evaluation's bad files only
    dataset.problems.share(journal)  # so that the data-loader workers' records come back
    result = evaluate(model, dataset, genome.classes, runtime, batch_size=args.batch_size, workers=args.workers,
                      progress=not args.json)
    per_class = dict(zip(classes, result.per_class))
    views = {"clips": args.clips or recipe.test_clips, "crops": args.crops or recipe.test_crops}
    summary = {**result.to_dict(), **views, "views": views["clips"] * views["crops"], "per_class": per_class}
    write_json_atomic(out_dir / f"{stem}.json", summary)
    write_json_atomic(out_dir / f"{stem}-confusion.json", {"classes": classes, "matrix": result.confusion.tolist()})
    report_problems([dataset], journal)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"top1 {result.top1:.4f}  top5 {result.top5:.4f}  on {result.videos} videos "
              f"({views['clips']} clips x {views['crops']} crops)")
        for name, acc in per_class.items():
            print(f"  {name:<32} {'-' if acc is None else f'{acc:.3f}'}")
        print(f"per-class accuracy and confusion matrix: {out_dir / (stem + '.json')}, {out_dir / (stem + '-confusion.json')}")
    return 0


def run_predict(args) -> int:
    from archspace.data.dataset import VideoDataset
    from archspace.data.decode import UnreadableVideo, probe
    from archspace.train.data import test_views
    from archspace.train.evaluate import predict

    check_at_least(args, {"clips": 1, "top_k": 1})
    for path in args.videos:  # the user named each file: a bad one is an error, not a skip
        try:
            probe(Path(path))
        except UnreadableVideo as exc:
            raise UserError(f"cannot read video {path}: {exc.reason}") from None
    model, genome, recipe, classes, runtime = _open_checkpoint(args.checkpoint, args.device)
    sampler, transform = test_views(recipe, args.clips, args.crops)
    videos = VideoDataset.of_files(args.videos, sampler=sampler, transform=transform)
    names = classes or [f"class {i}" for i in range(genome.classes)]
    k = min(args.top_k, genome.classes)
    rows = []
    for entry, probs in zip(videos.entries, predict(model, videos, runtime)):
        top = probs.topk(k)
        rows.append({"video": str(entry.path), "top": [{"class": names[i], "label": i, "probability": p}
                                                      for p, i in zip(top.values.tolist(), top.indices.tolist())]})
    views = {"clips": args.clips or recipe.test_clips, "crops": args.crops or recipe.test_crops}
    if args.json:
        print(json.dumps({**views, "predictions": rows}))
        return 0
    for row in rows:
        print(f"{row['video']} ({views['clips']} clips x {views['crops']} crops)")
        for t in row["top"]:
            print(f"  {t['probability']:7.2%}  {t['class']}")
    return 0


def run_convert(args) -> int:
    from archspace.io import write_json_atomic
    from archspace.models.convert import SOURCES, convert_weights, save_converted

    if args.source not in SOURCES:
        raise UserError(f"unknown weight source {args.source!r}; choose from {', '.join(SOURCES)}")
    genome = genome_from_args(args)
    model, report = convert_weights(args.source, args.source_checkpoint, genome, trust_pickle=args.trust_pickle)
    for line in report.lines():
        print(f"convert: {line}", file=sys.stderr)
    if args.report:
        write_json_atomic(args.report, report.to_dict())
    if not (report.complete or args.allow_missing):
        raise UserError(report.refusal())
    save_converted(model, args.out, args.source, args.source_checkpoint)
    left = len(report.missing) + len(report.mismatched)
    print(f"wrote {args.out} ({'all weights mapped' if report.complete else f'{left} tensor(s) left as initialised'})")
    return 0


def run_export_weights(args) -> int:
    from archspace.checkpoint import export_weights

    export_weights(args.checkpoint, args.out)
    print(f"wrote {args.out}")
    return 0
