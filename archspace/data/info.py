"""What is in a data folder: layout, classes, videos per split, frame and size
statistics, and the files that cannot be read."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from archspace.data.decode import UnreadableVideo, probe
from archspace.data.layouts import read_layout
from archspace.data.problems import ProblemLog


def dataset_info(root: str | Path, layout: str | None = None, progress: bool = False) -> dict:
    """Open every video of every split once (headers and packets, no decoding).

    Returns a JSON-able dict: layout, root, num_classes, classes, videos (files found,
    per split), readable (per split), frames and size statistics over readable videos,
    unreadable (sorted file names: missing, empty or undecodable) and problems (with
    reasons). Raises UserError for a bad root or layout.
    """
    from tqdm import tqdm

    index = read_layout(root, layout)
    problems = ProblemLog()
    frames, sizes, fps = [], Counter(), Counter()
    videos, readable = {}, {}
    for split, entries in index.splits.items():
        refused = index.annotation_problems(split)
        for kind, name, reason in refused:
            problems.record(kind, name, reason)
        videos[split] = len(entries) + len(refused)
        readable[split] = 0
        for entry in tqdm(entries, desc=f"info {split}", unit="video", file=sys.stderr, disable=not progress):
            try:
                info = probe(entry.path)
            except UnreadableVideo as exc:
                kind = {"missing file": "missing", "empty file (0 bytes)": "empty"}.get(exc.reason, "unreadable")
                problems.record(kind, entry.path.name, exc.reason)
                continue
            readable[split] += 1
            frames.append(info.frames)
            sizes[f"{info.width}x{info.height}"] += 1
            fps[round(info.fps, 3)] += 1
    stats = None
    if frames:
        stats = {"min": min(frames), "mean": round(sum(frames) / len(frames), 2), "max": max(frames)}
    return {
        "layout": index.layout,
        "root": str(index.root),
        "num_classes": len(index.classes),
        "classes": index.classes,
        "empty_classes": index.empty_classes,
        "videos": videos,
        "readable": readable,
        "frames": stats,
        "sizes": dict(sizes.most_common()),
        "fps": {str(k): v for k, v in fps.most_common()},
        "unreadable": problems.files(),
        "problems": problems.as_list(),
    }


def format_info(info: dict, all_classes: bool = False) -> str:
    """A short human-readable report of dataset_info's result (every class name with
    all_classes, else the first 8)."""
    lines = [f"layout   {info['layout']}  ({info['root']})"]
    if all_classes:
        lines.append(f"classes  {info['num_classes']}:")
        lines.extend(f"  {i:>4}  {name}" for i, name in enumerate(info["classes"]))
    else:
        more = " ... (--classes lists all)" if info["num_classes"] > 8 else ""
        lines.append(f"classes  {info['num_classes']}: {', '.join(info['classes'][:8])}{more}")
    if info["empty_classes"]:
        lines.append(f"empty class folders (left out): {', '.join(info['empty_classes'])}")
    for split, n in info["videos"].items():
        lines.append(f"{split:<8} {n} videos, {info['readable'][split]} readable")
    if info["frames"]:
        f = info["frames"]
        lines.append(f"frames   min {f['min']}, mean {f['mean']}, max {f['max']}")
        lines.append("sizes    " + ", ".join(f"{k} ({v})" for k, v in list(info["sizes"].items())[:5]))
        lines.append("fps      " + ", ".join(f"{k} ({v})" for k, v in list(info["fps"].items())[:5]))
    if info["unreadable"]:
        lines.append(f"unreadable {len(info['unreadable'])}:")
        lines.extend(f"  {p['file']}: {p['reason']}" for p in info["problems"] if p["kind"] != "padded")
    else:
        lines.append("unreadable none")
    return "\n".join(lines)
