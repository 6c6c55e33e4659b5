"""The paper's Table 1: the parameters and FLOPs of one module's middle conv, as the
paper's formulas give them, beside the cost model's count of the same conv (planned by
archspace.plan, as the network builder plans it). A cost-only experiment.

The formulas are the paper's (shared/reference/vov3d-paper.md, Table 1), for a
C x T x H x W input with C output channels, temporal kernel t, spatial kernel k = 3 and
spatial stride s; multiply-adds, as the paper convention counts.
"""

from __future__ import annotations

from pathlib import Path

from archspace.cost import count_middle_conv
from archspace.io import write_text_atomic

K = 3  # the spatial kernel of every middle conv
NAMES = {"bottleneck": "bottleneck", "r2plus1d": "R(2+1)D", "dw": "dw-bottleneck", "d1p2d": "D(1+2)D",
         "d2p1d": "D(2+1)D"}
FORMULAS = {  # as printed: parameters, FLOPs
    "bottleneck": ("C^2 t k^2", "C^2 t k^2 (HWT)/s^2"),
    "r2plus1d": ("C^2 (t+k^2)", "C^2 (t+k^2) (HWT)/s^2"),
    "dw": ("C t k^2", "C t k^2 (HWT)/s^2"),
    "d1p2d": ("C (t+k^2)", "C (s^2 t+k^2) (HWT)/s^2"),
    "d2p1d": ("C (t+k^2)", "C (t+k^2) (HWT)/s^2"),
}


def paper_formula(block: str, c: int, t: int, s: int, h: int, w: int, frames: int) -> tuple[int, int]:
    """(params, FLOPs) by the paper's Table 1."""
    hwt = h * w * frames
    if block == "bottleneck":
        return c * c * t * K * K, c * c * t * K * K * hwt // s**2
    if block == "r2plus1d":
        return c * c * (t + K * K), c * c * (t + K * K) * hwt // s**2
    if block == "dw":
        return c * t * K * K, c * t * K * K * hwt // s**2
    if block == "d1p2d":
        return c * (t + K * K), c * (s * s * t + K * K) * hwt // s**2
    return c * (t + K * K), c * (t + K * K) * hwt // s**2  # d2p1d


def module_cost_rows(exp) -> list[dict]:
    rows = []
    for case in exp.cases:
        for block in exp.blocks:
            args = (case.channels, case.t, case.stride, case.height, case.width, case.frames)
            params, flops = paper_formula(block, *args)
            ours_p, ours_f = count_middle_conv(block, case.channels, case.frames, case.height, case.width,
                                               t=case.t, stride=case.stride)
            rows.append({"block": block, "C": case.channels, "T": case.frames, "H": case.height, "W": case.width,
                         "t": case.t, "s": case.stride, "paper_params": params, "params": ours_p,
                         "paper_flops": flops, "flops": ours_f, "agree": (params, flops) == (ours_p, ours_f)})
    return rows


def write_module_cost(exp, out: Path):
    """results.csv and results.md of a module_cost experiment; returns the DataFrame."""
    import pandas as pd

    df = pd.DataFrame(module_cost_rows(exp))
    write_text_atomic(out / "results.csv", df.to_csv(index=False))
    lines = [f"# {exp.title}", "", "The paper's formulas (Table 1):", "",
             "| Type | Param. | FLOPs |", "|---|---|---|"]
    lines += [f"| {NAMES[b]} | {FORMULAS[b][0]} | {FORMULAS[b][1]} |" for b in exp.blocks]
    lines += ["", "Evaluated, beside the cost model's count of the same middle conv (archspace.plan, which "
              "the network builder reads; paper convention: multiply-adds, no BatchNorm):", "",
              "| Type | C | T | H | W | t | s | params (paper) | params (ours) | FLOPs (paper) | FLOPs (ours) | agree |",
              "|" + "---|" * 12]
    for r in df.to_dict("records"):
        lines.append(f"| {NAMES[r['block']]} | {r['C']} | {r['T']} | {r['H']} | {r['W']} | {r['t']} | {r['s']} | "
                     f"{r['paper_params']:,} | {r['params']:,} | {r['paper_flops']:,} | {r['flops']:,} | "
                     f"{'yes' if r['agree'] else 'NO'} |")
    agree = int(df["agree"].sum())
    lines += ["", f"{agree} of {len(df)} rows agree exactly" + ("." if agree == len(df) else
              "; the rows marked NO differ: the cost model does not follow Table 1 there.")]
    write_text_atomic(out / "results.md", "\n".join(lines) + "\n")
    return df
