"""Calibrate the search's proxy task: what each lever buys in accuracy and time.

The search trains candidates with `train_proxy` as Ray Tune trials, two at a time on
this 2-core machine, each with one torch thread. This script does the same: it runs the
trainings of a plan in two worker processes (one thread each, a fresh process per run)
and prints one JSON line per finished run (per-epoch accuracy and time included).
Times: wall seconds and the process's CPU seconds; at one thread the CPU seconds are
the wall time the run would take on an otherwise idle core.

    PYTHONPATH=. python experiments/proxy_calibration.py --plan lr            # one lever
    PYTHONPATH=. python experiments/proxy_calibration.py --plan rank --out runs/cal.jsonl

A genome's frames and crop are mapped onto the proxy as the search does: a genome at
16 x 224 trains at the proxy's frames x crop, 32 frames at twice the proxy's frames, a
312 crop at 312/224 of the proxy's crop (to a multiple of 4). Clip caches are built in
this process before the workers start (two builders of one cache would collide).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ORDER_PAIRS = ("moving_right", "moving_left", "approaching", "receding", "rotating_clockwise",
               "rotating_counterclockwise", "appearing", "disappearing")

# Six classes of distinct kinds of motion, none the partner of another.
DISTINCT6 = ("moving_right", "approaching", "rotating_clockwise", "appearing", "oscillating_fast", "staying_still")

# A small VoV3D (~half VoV3D-M's cost) and the four references.
GENOMES = {
    "vov3d_s": dict(base="vov3d", inner_ch=24, depths=(1, 1, 2, 1), modules=3),
    "vov3d_m": "vov3d_m",
    "vov3d_l": "vov3d_l",
    "x3d_m": "x3d_m",
    "x3d_l": "x3d_l",
    "x3d_s_depth": dict(base="x3d", depth_factor=1.0),  # X3D with depth factor 1 (X3D-XS/S net)
}

BASE = dict(epochs=8, frames=8, crop=48, batch_size=16, base_lr=0.8)


def genome_of(name: str):
    import archspace
    from archspace.genome import vov3d_genome, x3d_genome

    spec = GENOMES.get(name, name)
    if isinstance(spec, str):
        return archspace.preset(spec)
    spec = dict(spec)
    base = spec.pop("base")
    if base == "vov3d":
        return vov3d_genome(spec.pop("inner_ch"), spec.pop("depths"), spec.pop("modules"), frames=16, crop=224,
                            train_crop=224, **spec)
    return x3d_genome(spec.pop("depth_factor"), frames=16, crop=224, **spec)


def proxy_input(genome, frames: int, crop: int) -> tuple[int, int]:
    """The proxy frames and crop for `genome`: proportional to its 16 x 224 target."""
    return max(1, round(frames * genome.frames / 16)), max(32, 4 * round(crop * genome.crop / 224 / 4))


def run_one(spec: dict) -> dict:
    import torch

    torch.set_num_threads(1)
    from archspace.train.proxy import ProxyBudget, train_proxy

    genome = genome_of(spec["genome"])
    b = dict(spec["budget"])
    b["frames"], b["crop"] = proxy_input(genome, b["frames"], b["crop"])
    budget = ProxyBudget(**b)
    history = []
    started, cpu0 = time.perf_counter(), time.process_time()

    def report(m):
        history.append({"epoch": m["epoch"], "val_top1": round(m["val_top1"], 4), "train_loss": round(m["train_loss"], 4),
                        "train_clips_s": round(m["train_clips_per_s"], 1),
                        "s": round(time.perf_counter() - started, 1), "cpu_s": round(time.process_time() - cpu0, 1)})
        print(json.dumps({"genome": spec["genome"], "setting": spec["setting"], **history[-1]}), file=sys.stderr, flush=True)

    try:
        train_proxy(genome, spec["data"], budget, report=report, seed=spec.get("seed", 0))
        status = "ok"
    except Exception as exc:  # a diverged run is a result too
        status = f"{type(exc).__name__}: {exc}"[:200]
    classes = len(budget.classes) if budget.classes else 15
    final = history[-1]["val_top1"] if history else None
    return {**{k: spec[k] for k in ("lever", "setting", "genome", "seed", "data")}, "budget": budget.to_dict(),
            "status": status, "seconds": round(time.perf_counter() - started, 1),
            "cpu_seconds": round(time.process_time() - cpu0, 1), "val_top1": final,
            "best_top1": max((h["val_top1"] for h in history), default=None),
            "x_chance": None if final is None else round(final * classes, 2), "history": history}


def prebuild_caches(specs: list[dict]) -> None:
    from archspace.data.cache import ClipCache
    from archspace.train.recipe import load_recipe

    done = set()
    for spec in specs:
        g = genome_of(spec["genome"])
        frames, crop = proxy_input(g, spec["budget"]["frames"], spec["budget"]["crop"])
        r = load_recipe(spec["budget"].get("recipe", "ssv2_scratch")).with_size(frames, crop)
        for split, size in (("train", r.short_side[0]), ("val", r.test_short_side)):
            key = (spec["data"], split, frames, size)
            if key not in done:
                t = time.perf_counter()
                ClipCache.build(spec["data"], split, frames=frames, size=size, progress=False)
                print(json.dumps({"cache": key, "seconds": round(time.perf_counter() - t, 1)}), file=sys.stderr, flush=True)
                done.add(key)


def run(lever: str, setting: str, genome: str, data: str, seed: int = 0, **budget) -> dict:
    return {"lever": lever, "setting": setting, "genome": genome, "data": data, "seed": seed,
            "budget": {**BASE, **budget}}


def plans(d: dict) -> dict[str, list[dict]]:
    """Named lists of runs; `d` maps data-set names to folders."""
    data = d["base"]
    p = {}
    p["lr"] = [run("lr", f"base_lr {lr}", g, data, base_lr=lr) for lr in (0.4, 0.8, 1.6) for g in ("vov3d_m", "x3d_m")]
    p["input"] = [run("input", f"{f}x{c}", g, data, frames=f, crop=c) for f, c in ((8, 40), (8, 56), (6, 48), (12, 40))
                  for g in ("vov3d_m", "x3d_m")]
    p["batch"] = [run("batch", f"batch {bs}", g, data, batch_size=bs) for bs in (8, 32) for g in ("vov3d_m", "x3d_m")]
    p["classes"] = [run("classes", "8 order-pair classes", g, data, classes=ORDER_PAIRS) for g in ("vov3d_m", "x3d_m")]
    p["epochs"] = [run("epochs", f"{e} epochs", g, data, epochs=e) for e in (5, 12) for g in ("vov3d_m", "x3d_m")]
    p["base"] = [run("base", "8x48, lr 0.8, 8 ep", g, data) for g in ("vov3d_m", "x3d_m")]
    # Screening at about 1800 clip passes of VoV3D-M (3 epochs of 600 videos), 4x48 input.
    easy, short = d.get("easy", data), d.get("short", data)
    p["screen"] = [
        run("input", "4x48, 3 ep (standard data)", "vov3d_m", data, frames=4, epochs=3),
        run("difficulty", "easy scene, 4x48, 3 ep", "vov3d_m", easy, frames=4, epochs=3),
        run("lr", "easy, base_lr 1.6", "vov3d_m", easy, frames=4, epochs=3, base_lr=1.6),
        run("classes", "easy, 8 order-pair classes, 5 ep", "vov3d_m", easy, frames=4, epochs=5, classes=ORDER_PAIRS),
        run("videos", "1200 x 16-frame videos, 2 ep", "vov3d_m", short, frames=4, epochs=2),
        run("lr", "easy, base_lr 0.4", "vov3d_m", easy, frames=4, epochs=3, base_lr=0.4),
    ]
    # Round 2: the synth_proxy recipe (no dropout, short warm-up, lighter jitter, lr 1.6).
    rec = dict(recipe="synth_proxy", base_lr=1.6, warmup_epochs=0.3, frames=4)
    p["recipe"] = [
        run("recipe", "easy, synth_proxy recipe, 3 ep", "vov3d_m", easy, epochs=3, **rec),
        run("recipe", "easy, synth_proxy, 8 order-pair classes, 5 ep", "vov3d_m", easy, epochs=5, classes=ORDER_PAIRS, **rec),
    ]
    p["distinct"] = [run("classes", "easy, synth_proxy, 6 distinct-motion classes, 6 ep", g, easy, epochs=6,
                         classes=DISTINCT6, **rec) for g in ("vov3d_m", "x3d_m")]
    # The recommended proxy, on several genomes and two seeds: does it rank them?
    best = dict(rec, epochs=6)
    p["rank"] = [run("rank", "easy, synth_proxy, 15 classes, 6 ep", g, easy, seed=s, **best)
                 for g, s in (("vov3d_m", 0), ("x3d_m", 0), ("vov3d_m", 1), ("vov3d_s", 0), ("x3d_m", 1), ("vov3d_l", 0))]
    p["more"] = [run("rank", "easy, synth_proxy, 15 classes, 6 ep", g, easy, seed=s, **best)
                 for g, s in (("vov3d_s", 1), ("x3d_l", 0))]
    p["seeds10"] = [run("epochs", "easy, synth_proxy, 15 classes, 10 ep", "vov3d_s", easy, seed=s, **dict(best, epochs=10))
                    for s in (0, 1, 2)]
    p["m10"] = [run("epochs", "easy, synth_proxy, 15 classes, 10 ep", "vov3d_m", easy, seed=s, **dict(best, epochs=10))
                for s in (0, 1)]
    # Round 3 (the search's proxy: half-width copies, easy scene, synth_proxy, 4x48): the
    # learning rate below the 0.8-1.6 tried so far, two seeds, 6 epochs.
    half = dict(rec, width=0.5, epochs=6)
    p["half_lr"] = [run("lr", f"half width, base_lr {lr}", "vov3d_m", data, seed=s, **dict(half, base_lr=lr))
                    for lr in (0.2, 0.4, 0.8) for s in (0, 1)]
    quarter = dict(rec, width=0.25, epochs=12)
    p["quarter"] = [run("width", f"quarter width, base_lr {lr}", g, data, seed=s, **dict(quarter, base_lr=lr))
                    for lr in (0.8,) for g in ("vov3d_m", "vov3d_l") for s in (0, 1)]
    for name, folder in d.items():
        if name != "base":
            p[f"data:{name}"] = [run("data", name, g, folder) for g in ("vov3d_m", "x3d_m")]
    return p


def table(path: str) -> str:
    """A markdown table of the runs in a JSON-lines file (as this script writes)."""
    rows = ["| lever | setting | genome | seed | input | epochs | wall s | CPU s | val top-1 (per epoch) | x chance |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for line in Path(path).read_text().splitlines():
        r = json.loads(line)
        b = r["budget"]
        curve = " ".join(f"{h['val_top1'] * 100:.1f}" for h in r["history"])
        rows.append(f"| {r['lever']} | {r['setting']} | {r['genome']} | {r['seed']} | {b['frames']}x{b['crop']}, "
                    f"lr {b['base_lr']}, bs {b['batch_size']} | {b['epochs']} | {r['seconds']:.0f} | "
                    f"{r.get('cpu_seconds', float('nan')):.0f} | {curve} | {r['x_chance']} |")
    return "\n".join(rows)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plan", action="append", default=[], help="a plan name (repeatable), e.g. lr, input, rank")
    ap.add_argument("--table", metavar="JSONL", help="print a markdown table of a results file and exit")
    ap.add_argument("--data", default="data/synth80", help="the base data set")
    ap.add_argument("--extra-data", action="append", default=[], metavar="NAME=DIR", help="more data sets (plan data:NAME)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a budget field in every run")
    ap.add_argument("--only", default=None, help="comma-separated genomes to keep")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=None, help="append the JSON lines to this file too")
    args = ap.parse_args(argv)
    if args.table:
        print(table(args.table))
        return

    import yaml

    folders = {"base": args.data, **dict(x.split("=", 1) for x in args.extra_data)}
    named = plans(folders)
    specs = [s for name in args.plan for s in named[name]]
    overrides = {k: yaml.safe_load(v) for k, v in (x.split("=", 1) for x in args.set)}
    for s in specs:
        s["budget"].update(overrides)
    if args.only:
        specs = [s for s in specs if s["genome"] in args.only.split(",")]
    prebuild_caches(specs)
    out = open(args.out, "a") if args.out else None
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=ctx, max_tasks_per_child=1) as pool:
        futures = [pool.submit(run_one, s) for s in specs]
        for f in as_completed(futures):
            line = json.dumps(f.result())
            print(line, flush=True)
            if out:
                out.write(line + "\n")
                out.flush()


if __name__ == "__main__":
    main()
