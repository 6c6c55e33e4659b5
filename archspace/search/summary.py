"""Helpers of Space.summary, and the text that `archspace space show` prints."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from archspace.genome import TWO_CONV_BLOCKS
from archspace.search.knobs import label

if TYPE_CHECKING:
    from archspace.search.space import Space

# Beyond this many derived states, covering_first keeps the order (its greedy pass is quadratic).
_COVER_LIMIT = 5000


def covering_first(states: list[dict]) -> list[dict]:
    """Genome field dicts (one per derived state) with a greedy cover of their stages first.

    Within one assignment of the plain knobs, a genome needs a full count only if it
    brings a stage not seen yet (StageCostMemo); putting first the fewest states that
    hold every distinct (stage index, depth, widths) makes those counts few (e.g. 6
    instead of 11 for per-stage depths of 2, 3, 6 and 3 values). Long lists keep their order.
    """
    if len(states) > _COVER_LIMIT:
        return states
    tags = []
    for f in states:
        stem, head, out = f["stem_width"], f["head_width"], f["out_widths"]
        previous = (stem,) + tuple(out[:-1])
        stages = zip(f["depths"], f["inner_widths"], out, previous)
        tags.append({(stem, head, i, *stage) for i, stage in enumerate(stages)})
    uncovered = set().union(*tags) if tags else set()
    first: list[int] = []
    while uncovered:
        best = max(range(len(states)), key=lambda i: len(tags[i] & uncovered))
        first.append(best)
        uncovered -= tags[best]
    chosen = set(first)
    return [states[i] for i in first] + [f for i, f in enumerate(states) if i not in chosen]


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% for z = 1.96); (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def format_summary(space: "Space", summary: dict[str, Any]) -> str:
    """Human-readable lines for `archspace space show`: knobs, size, feasible, cost ranges."""
    lines = [f"space {space.path}"]

    def row(name: str, text: str) -> None:
        lines.append(f"  {name:<12} {text}")

    t = space.target
    fixed = ", ".join(f"{k}={label(v)}" for k, v in space.fixed.items())
    row("base", f"{space.base_name} ({space.base.family})" + (f", fixed {fixed}" if fixed else ""))
    train = f", train crop {t.train_crop}" if t.train_crop not in (None, t.crop) else ""
    row("target", f"{t.frames} x {t.crop}^2{train}, {t.classes} classes, counter {t.counter}")
    width = max(len(k.name) for k in space.knobs)
    for i, knob in enumerate(space.knobs):
        note = f"   (only with {', '.join(TWO_CONV_BLOCKS)})" if knob.name == "inter" else ""
        row("knobs" if i == 0 else "", f"{knob.name:<{width}}  {knob.describe()}{note}")
    size = summary["size"]
    if size is None:
        row("size", "continuous (a float knob without step)")
    elif summary["size_exact"]:
        row("size", f"{size:,} distinct genomes")
    else:
        row("size", f"{size:,} knob assignments (duplicate genomes not removed)")
    row("constraints", space.constraints.describe())
    if summary["exact"]:
        share = f" ({100 * summary['feasible'] / size:.1f}%)" if size else ""
        row("feasible", f"{summary['feasible']:,}{share}, every genome counted")
    else:
        low, high = summary["feasible_fraction_low"], summary["feasible_fraction_high"]
        count = f"{summary['feasible']:,} " if summary.get("feasible") is not None else ""
        row(
            "feasible",
            f"~{count}({100 * summary['feasible_fraction']:.1f}%, "
            f"95% interval {100 * low:.1f}-{100 * high:.1f}%), "
            f"estimated from {summary['sample']:,} sampled genomes",
        )
    scope = " at the target" + ("" if summary["exact"] else ", in the sample")
    row("GFLOPs", f"{summary['gflops_min']:.3f} - {summary['gflops_max']:.3f}{scope}")
    row("params (M)", f"{summary['params_m_min']:.3f} - {summary['params_m_max']:.3f}{scope}")
    row("objectives", ", ".join(f"{n} {d}" for n, d in space.objectives.items()))
    return "\n".join(lines)
