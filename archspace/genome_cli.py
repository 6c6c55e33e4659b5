"""`archspace cost`, `presets` and `genome`: networks from genomes, counted without torch."""

from __future__ import annotations

import argparse
import json

from archspace.cli_args import add_genome_arguments, describe_genome, device_argument, genome_from_args


# ----------------------------------------------------------------------------- cost


def register_cost(sub, name: str) -> None:
    p = sub.add_parser(
        name,
        help="params, FLOPs and activations of a network, counted analytically",
        description="Count params, FLOPs and activations of a genome exactly as fvcore does "
        "(or as the paper's tables did), without building it.",
        epilog="example: archspace cost --arch vov3d_l --frames 32 --set block=dw --json\n"
        "         archspace cost --arch x3d_m --layers",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_genome_arguments(p)
    p.add_argument("--counter", default="fvcore", help="fvcore (default) or paper")
    p.add_argument("--layers", action="store_true",
                   help="one row per layer (name, output C x T x H x W, params, FLOPs, acts), as fvcore's flop_count_table")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--measure", action="store_true", help="also time a forward pass on this device")
    p.add_argument("--device", default="cpu", type=device_argument, help="device for --measure: cpu or cuda")
    p.add_argument("--batch", type=int, default=1, help="batch for --measure")
    p.add_argument("--repeats", type=int, default=5, help="timed forward passes for --measure")
    p.set_defaults(run=_run_cost)


def _run_cost(args) -> int:
    from archspace.cost import count, count_layers

    genome = genome_from_args(args)
    cost = count(genome, args.counter)
    layers = count_layers(genome, args.counter) if args.layers else None
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
        if layers is not None:
            out["layers"] = [{"name": r.name, "output": list(r.output), "params": r.params, "flops": r.flops,
                              "acts": r.acts} for r in layers]
        print(json.dumps(out))
        return 0
    print(describe_genome(genome, args.arch or args.genome))
    print(format_layer_table(layers) if layers is not None else format_cost_table(cost))
    if measured is not None:
        m = measured
        print(
            f"measured on {m.device} ({m.threads} threads, batch {m.batch}): "
            f"{m.latency_ms:.1f} ms median of {m.repeats} (min {m.latency_ms_min:.1f}), "
            f"peak memory +{m.peak_memory_mib:.0f} MiB"
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


def format_layer_table(layers) -> str:
    """One row per layer with exact counts; outputs as C x T x H x W (classes for the head)."""
    header = ("layer", "output (C x T x H x W)", "params", "FLOPs", "acts")
    rows = [(r.name, " x ".join(map(str, r.output)), f"{r.params:,}", f"{r.flops:,}", f"{r.acts:,}") for r in layers]
    rows.append(("total", "", f"{sum(r.params for r in layers):,}", f"{sum(r.flops for r in layers):,}",
                 f"{sum(r.acts for r in layers):,}"))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]

    def line(r):
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    rule = "-" * len(line(header))
    return "\n".join([line(header), rule, *map(line, rows[:-1]), rule, line(rows[-1])])


# ----------------------------------------------------------------------------- presets


def register_presets(sub, name: str) -> None:
    p = sub.add_parser(
        name,
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


def register_genome(sub, name: str) -> None:
    p = sub.add_parser(
        name,
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
