"""The `archspace` command: parses arguments and calls the Python API, nothing more."""

from __future__ import annotations

import argparse
import json
import sys

from archspace.errors import UserError


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as one line and exit status 2."""

    def error(self, message: str):  # noqa: D401 - argparse hook
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="archspace", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for register in _COMMANDS:
        register(sub)
    return parser


# ----------------------------------------------------------------------------- genome


def add_genome_arguments(p: argparse.ArgumentParser) -> None:
    """--arch / --genome plus the overrides every verb that takes a network accepts."""
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--arch", metavar="PRESET", help="a preset name (see `archspace presets`)")
    src.add_argument("--genome", metavar="FILE.yaml", help="a genome YAML file (see `archspace genome`)")
    p.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a genome field, e.g. --set block=dw --set depths=[1,2,3,2]",
    )
    p.add_argument("--frames", type=int, help="input frames T")
    p.add_argument("--crop", type=int, help="input crop S (S x S)")
    p.add_argument("--train-crop", type=int, help="train crop (sets the paper head's pool)")
    p.add_argument("--classes", type=int, help="number of classes")


def genome_from_args(args: argparse.Namespace):
    from archspace.genome import apply_assignments, load_genome, preset

    genome = preset(args.arch) if args.arch else load_genome(args.genome)
    sized = {
        "frames": args.frames,
        "crop": args.crop,
        "train_crop": args.train_crop,
        "classes": args.classes,
    }
    assignments = list(args.assignments) + [f"{k}={v}" for k, v in sized.items() if v is not None]
    return apply_assignments(genome, assignments)


def _describe(genome, label: str) -> str:
    g = genome
    block = g.block + ("" if g.inter == "none" else f"+{g.inter}")
    modules = f", {g.modules} modules/T-OSA" if g.family == "vov3d" else ""
    return (
        f"{label}: {g.family}, {block}{modules}, depths {list(g.depths)}, "
        f"{g.frames} x {g.crop}^2 (train crop {g.train_crop}), {g.classes} classes"
    )


# ----------------------------------------------------------------------------- cost


def _register_cost(sub) -> None:
    p = sub.add_parser(
        "cost",
        help="params, FLOPs and activations of a network, counted analytically",
        description="Count params, FLOPs and activations of a genome exactly as fvcore does "
        "(or as the paper's tables did), without building it.",
        epilog="example: archspace cost --arch vov3d_l --frames 32 --set block=dw --json",
    )
    add_genome_arguments(p)
    p.add_argument("--counter", default="fvcore", help="fvcore (default) or paper")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--measure", action="store_true", help="also time a forward pass on this device")
    p.add_argument("--device", default="cpu", help="device for --measure: cpu or cuda")
    p.add_argument("--batch", type=int, default=1, help="batch for --measure")
    p.add_argument("--repeats", type=int, default=5, help="timed forward passes for --measure")
    p.set_defaults(run=_run_cost)


def _run_cost(args) -> int:
    from archspace.cost import count

    genome = genome_from_args(args)
    cost = count(genome, args.counter)
    measured = None
    if args.measure:
        from archspace.measure import measure

        measured = measure(genome, device=args.device, batch=args.batch, repeats=args.repeats)
    if args.json:
        out = dict(cost.to_dict(), genome=genome.to_dict())
        if args.arch:
            out["arch"] = args.arch
        if measured is not None:
            out["measured"] = measured.to_dict()
        print(json.dumps(out))
        return 0
    print(_describe(genome, args.arch or args.genome))
    print(format_cost_table(cost))
    if measured is not None:
        m = measured
        print(
            f"measured on {m.device} ({m.threads} threads, batch {m.batch}): "
            f"{m.latency_ms:.1f} ms median of {m.repeats} (min {m.latency_ms_min:.1f}), "
            f"peak memory +{m.peak_memory_mb:.0f} MiB"
        )
    return 0


def format_cost_table(cost) -> str:
    rows = [("stage", "output", "params (M)", "GFLOPs", "acts (M)")]
    for s in cost.stages:
        shape = " x ".join(str(d) for d in s.output) if len(s.output) == 1 else (
            f"{s.output[0]} x {s.output[1]} x {s.output[2]} x {s.output[3]}"
        )
        rows.append((s.name, shape, f"{s.params / 1e6:.4f}", f"{s.flops / 1e9:.4f}", f"{s.acts / 1e6:.3f}"))
    rows.append(("total", "", f"{cost.params / 1e6:.4f}", f"{cost.flops / 1e9:.4f}", f"{cost.acts / 1e6:.3f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [
        "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(-1, "-" * len(lines[0]))
    lines.append(f"{cost.counter} counter: {cost.params:,} params, {cost.flops:,} FLOPs, {cost.acts:,} acts")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- presets


def _register_presets(sub) -> None:
    p = sub.add_parser(
        "presets",
        help="list the preset networks with their cost",
        description="List the preset genomes with params and FLOPs at their own frames x crop.",
        epilog="example: archspace presets --classes 174 --counter paper",
    )
    p.add_argument("--classes", type=int, help="count with this many classes (default: the preset's)")
    p.add_argument("--counter", default="fvcore", help="fvcore (default) or paper")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(run=_run_presets)


def _run_presets(args) -> int:
    from archspace.cost import count
    from archspace.genome import PRESETS

    rows = []
    for name, genome in PRESETS.items():
        if args.classes is not None:
            genome = genome.replace(classes=args.classes)
        cost = count(genome, args.counter)
        rows.append(
            {
                "name": name,
                "family": genome.family,
                "block": genome.block,
                "frames": genome.frames,
                "crop": genome.crop,
                "classes": genome.classes,
                "params": cost.params,
                "flops": cost.flops,
            }
        )
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'preset':<15}{'family':<7}{'block':<7}{'input':>12}{'classes':>9}{'params (M)':>12}{'GFLOPs':>9}")
    for r in rows:
        size = f"{r['frames']} x {r['crop']}^2"
        print(
            f"{r['name']:<15}{r['family']:<7}{r['block']:<7}{size:>12}{r['classes']:>9}"
            f"{r['params'] / 1e6:>12.3f}{r['flops'] / 1e9:>9.3f}"
        )
    print(f"({args.counter} counter)")
    return 0


# ----------------------------------------------------------------------------- genome verb


def _register_genome(sub) -> None:
    p = sub.add_parser(
        "genome",
        help="print a genome as YAML (a starting point for --genome files)",
        description="Print the genome of a preset, with overrides applied, as YAML.",
        epilog="example: archspace genome --arch x3d_m --set block=d2p1d > x3d_m_d2p1d.yaml",
    )
    add_genome_arguments(p)
    p.add_argument("--out", help="write the YAML to this file (atomically) instead of printing it")
    p.set_defaults(run=_run_genome)


def _run_genome(args) -> int:
    genome = genome_from_args(args)
    if args.out:
        genome.save(args.out)
    else:
        print(genome.to_yaml(), end="")
    return 0


def _register_training(sub) -> None:
    from archspace.train.cli import register

    register(sub)


def _register_data(sub) -> None:
    from archspace.data.cli import register

    register(sub)


_COMMANDS: list = [_register_cost, _register_presets, _register_genome, _register_training, _register_data]


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
