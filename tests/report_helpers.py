"""A small search run folder made by hand (no search runs): a trials table written by the
search's own writer, with search.json and space.yaml beside it, for the report tests."""

from __future__ import annotations

import json
from pathlib import Path

import archspace
from archspace.genome import vov3d_genome
from archspace.io import write_json_atomic, write_text_atomic
from archspace.search.table import frame, write_table

XSS = "<img src=x onerror=alert(1)>"
KNOBS = ["block", "width", "depths"]

# trial, state, block, width, depths, accuracy by epoch (the last one is the accuracy), reused_from
TRIALS = [
    (0, "complete", "d2p1d", 40, [1, 2, 3, 2], [0.10, 0.20, 0.30, 0.40], None),
    (1, "pruned", "dw", 48, [1, 1, 2, 2], [0.10, 0.45], None),  # stopped early: never on the front
    (2, "complete", "dw", 32, [1, 1, 2, 2], [0.10, 0.15, 0.25, 0.30], None),
    (3, "complete", XSS, 56, [1, 2, 5, 3], [0.20, 0.30, 0.40, 0.50], None),
    (4, "failed", "d1p2d", 48, [1, 2, 4, 2], [], None),
    (5, "complete", "d2p1d", 40, [1, 2, 3, 2], [0.10, 0.20, 0.30, 0.40], 0),  # the genome of trial 0 again
    (6, "pruned", "d1p2d", 32, [1, 2, 3, 2], [0.05, 0.08], None),
    (7, "complete", "d1p2d", 32, [1, 1, 2, 2], [0.10, 0.12, 0.15, 0.20], None),
]
REFERENCES = [("vov3d_m", [0.1, 0.2, 0.3, 0.35]), ("x3d_m", [0.1, 0.1, 0.1, 0.12])]


def genome_of(block: str, width: int, depths: list[int]):
    g = vov3d_genome(width, tuple(depths), 5, classes=174)
    return g.replace(block=block if block in ("d2p1d", "dw", "d1p2d") else "d2p1d",
                     inter="none" if block == "dw" else "relu")


def _costs(genome) -> dict:
    cost = archspace.count(genome)
    return {"params": cost.params, "flops": cost.flops, "acts": cost.acts, "gflops": cost.flops / 1e9,
            "params_m": cost.params / 1e6}


def make_run(folder: Path, name: str = "handmade", trials=TRIALS, references=REFERENCES, status: str = "finished") -> Path:
    """Write FOLDER/trials.csv and .parquet, search.json and space.yaml; returns FOLDER."""
    rows = []
    for trial, state, block, width, depths, by_epoch, reused in trials:
        genome = genome_of(block, width, depths)
        rows.append({"trial": trial, "state": state, "accuracy": by_epoch[-1] if by_epoch else None,
                     "accuracy_by_epoch": json.dumps(by_epoch), "epochs": len(by_epoch), **_costs(genome),
                     "latency_ms": None, "proxy_classes": 15, "proxy_frames": 4, "proxy_crop": 48, "wall_s": 10.0 + trial,
                     "reference": False, "preset": None, "reused_from": reused, "node": "node-a",
                     "error": "RuntimeError: out of memory" if state == "failed" else None,
                     "genome": json.dumps(genome.to_dict()), "block": block, "width": width, "depths": json.dumps(depths)})
    for preset, by_epoch in references:
        genome = archspace.preset(preset).replace(classes=174)
        rows.append({"trial": None, "state": "complete", "accuracy": by_epoch[-1], "accuracy_by_epoch": json.dumps(by_epoch),
                     "epochs": len(by_epoch), **_costs(genome), "proxy_classes": 15, "proxy_frames": 4, "proxy_crop": 48,
                     "wall_s": 30.0, "reference": True, "preset": preset, "genome": json.dumps(genome.to_dict())})
    write_table(frame(rows, KNOBS), folder)
    write_text_atomic(folder / "space.yaml", "base: vov3d_m\nobjectives: {accuracy: max, gflops: min}\n")
    write_json_atomic(folder / "search.json", {
        "name": name, "space": "search_spaces/handmade.yaml", "status": status, "wall_s": 125.0,
        "proxy_budget": {"epochs": 4, "batch_size": 16, "width": 0.5}, "proxy_data": "/data/synth dir",
        "sampler": "nsga2", "scheduler": "asha", "seed": 0, "trials": 8, "concurrency": 2,
        "machine": {"host": "testhost", "platform": "Linux", "cpus": 2}})
    return folder
