"""An experiment's results: results.csv (one row per genome and proxy, seeds pooled) and
results.md (the paper's table with the published figures beside ours, the cost check,
and where our ordering agrees with the paper's, all computed from the numbers).

The accuracy split reads the per-class counts of the trial's own evaluation: classes of
the synthetic benchmark's order and tempo pairs (archspace/data/synth.py), and the rest.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Optional

from archspace.analysis.trials import DETAILS
from archspace.cost import count
from archspace.io import write_text_atomic

# An experiment's trials table: the search's columns, then these (the result details
# analysis knows not to take for knobs).
EXTRA_COLUMNS = ["name", "proxy", "seed", *DETAILS]
SPLITS = ("accuracy", "order_tempo_accuracy", "other_accuracy")
RESULT_COLUMNS = (["name", "proxy", "params", "flops", "params_m", "gflops", "paper_params_m", "paper_gflops",
                   "paper_top1"] + [f"{s}_{stat}" for s in SPLITS for stat in ("mean", "std")] + ["seeds", "wall_s"])
PRECISION = 1  # decimals of the paper's printed params (M) and GFLOPs


def split_accuracy(per_class: dict, paired: bool) -> Optional[float]:
    """Accuracy over the videos of the order/tempo-pair classes (`paired`) or of the
    other classes, from {class: [hits, videos]}; None when none of them is there (data
    other than the synthetic benchmark)."""
    from archspace.data.synth import CLASSES

    kinds = {c.name: c.pair_kind for c in CLASSES}
    chosen = [counts for name, counts in per_class.items() if name in kinds and (kinds[name] is not None) == paired]
    videos = sum(v for _, v in chosen)
    return sum(h for h, _ in chosen) / videos if videos else None


def results_frame(exp, trials):
    """One row per (proxy, genome): exact cost, published figures, accuracy mean and std
    over the complete seeds (sample std; empty with one seed)."""
    import pandas as pd

    rows = []
    proxies = list(dict.fromkeys(trials["proxy"])) if len(trials) else []
    for proxy in proxies:
        for entry in exp.genomes:
            cost = count(entry.genome, exp.counter)
            done = trials[(trials["name"] == entry.name) & (trials["proxy"] == proxy) & (trials["state"] == "complete")]
            row = {"name": entry.name, "proxy": proxy, "params": cost.params, "flops": cost.flops,
                   "params_m": cost.params / 1e6, "gflops": cost.flops / 1e9,
                   **{f"paper_{k}": entry.paper.get(k) for k in ("params_m", "gflops", "top1")},
                   "seeds": len(done), "wall_s": float(done["wall_s"].fillna(0).sum())}
            for split in SPLITS:
                values = pd.to_numeric(done[split], errors="coerce").dropna()
                row[f"{split}_mean"] = float(values.mean()) if len(values) else None
                row[f"{split}_std"] = float(values.std(ddof=1)) if len(values) > 1 else None
            rows.append(row)
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def write_results(exp, out: Path, trials, budget: str, summary: dict):
    """results.csv and results.md in `out`; returns the results DataFrame."""
    results = results_frame(exp, trials)
    write_text_atomic(out / "results.csv", results.to_csv(index=False))
    write_text_atomic(out / "results.md", results_markdown(exp, results, trials, budget, summary))
    return results


# ----------------------------------------------------------------------------- results.md


def results_markdown(exp, results, trials, budget: str, summary: dict) -> str:
    lines = [f"# {exp.title}", ""]
    lines += _setup(exp, budget, summary, trials) + [""]
    for proxy in dict.fromkeys(results["proxy"]):
        rows = results[results["proxy"] == proxy]
        if results["proxy"].nunique() > 1:
            lines += [f"## Proxy `{proxy}`", ""]
        lines += _table(exp, rows) + [""]
    lines += cost_check(exp)
    if exp.compare:
        lines += ["## Ordering: ours against the paper's", ""] + ordering(exp, results) + [""]
    if exp.fidelity:
        from archspace.experiment.fidelity import fidelity_section

        lines += fidelity_section(exp, trials) + [""]
    return "\n".join(lines).rstrip() + "\n"


def _setup(exp, budget: str, summary: dict, trials) -> list[str]:
    t = exp.space.target
    views = exp.paper.get("views")
    out = [f"Published figures: {exp.paper.get('source', 'the VoV3D paper')}"
           + (f" (GFLOPs per view; the paper tests {views} views and prints 'GFLOPs x {views}')" if views else "") + ".",
           f"Our cost: counted exactly in the {exp.counter} convention at {t.frames} x {t.crop}^2"
           f" (train crop {t.train_crop_for(t.crop)}), {t.classes} classes, unless a row sets its own input.",
           f"Our accuracy: top-1 on the validation split of the proxy data, mean +- sample std over the seeds "
           f"(`seeds` column; seeds 0..{summary.get('seeds', 1) - 1}), the '{budget}' budget; order/tempo = the "
           "classes of the synthetic benchmark's order and tempo pairs, other = the rest, from the same evaluation."]
    for name, p in (summary.get("proxies") or {}).items():
        synth = p.get("synth")
        data = (f"synthetic benchmark, {synth['videos_per_class']} training and {synth['val_videos_per_class']} "
                f"validation videos per class, {synth['frames']} frames at {synth['size']} px, scene "
                f"{synth.get('scene', 'standard')}" if synth else summary.get("proxy_data"))
        out.append(f"Proxy `{name}`: {p['epochs']} epoch(s) at {p['frames']} x {p['crop']}^2 (scaled with each "
                   f"genome's input), width x{p['width']}, batch {p['batch_size']}, base lr {p['base_lr']}, "
                   f"recipe {p['recipe']}; data: {data}.")
    classes = summary.get("proxy_classes")
    wall, train = summary.get("wall_s"), summary.get("train_s")
    counts = summary.get("counts", {})
    out.append(f"Trainings: {summary.get('trainings')} ({counts.get('complete', 0)} complete, {counts.get('failed', 0)} "
               f"failed){f'; chance is {100 / classes:.1f} %' if classes else ''}. Wall time "
               f"{wall:.0f} s for this run ({train:.0f} s of training in it, {summary.get('concurrency')} at a time); "
               f"the {len(trials)} trainings of the table took {float(trials['wall_s'].fillna(0).sum()):.0f} s "
               "in all (their wall_s in trials.csv, summed; some may come from an earlier run or the cache)."
               if wall is not None else "")
    return [line for line in out if line]


def _pct(mean, std) -> str:
    if mean is None or mean != mean:
        return "-"
    return f"{100 * mean:.1f}" + (f" +- {100 * std:.1f}" if std is not None and std == std else "")


def _num(value, digits: int = 2) -> str:
    return "-" if value is None or value != value else f"{value:.{digits}f}"


def _table(exp, rows) -> list[str]:
    views = exp.paper.get("views")
    x = f" x {views}" if views else ""
    has_base = any(e.baseline for e in exp.genomes)
    head = ["Model", "Params (M)", "paper", "GFLOPs", "paper", "Top-1 paper", "Top-1 ours", "order/tempo", "other",
            "seeds"] + (["GFLOPs / baseline"] if has_base else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    gflops = dict(zip(rows["name"], rows["gflops"]))
    for r in rows.to_dict("records"):
        entry = next(e for e in exp.genomes if e.name == r["name"])
        paper_g = r["paper_gflops"]
        cells = [r["name"], _num(r["params_m"], 3), _num(r["paper_params_m"], 1), _num(r["gflops"], 3),
                 "-" if paper_g is None or paper_g != paper_g else f"{paper_g:.1f}{x}",
                 _num(r["paper_top1"], 1), _pct(r["accuracy_mean"], r["accuracy_std"]),
                 _pct(r["order_tempo_accuracy_mean"], r["order_tempo_accuracy_std"]),
                 _pct(r["other_accuracy_mean"], r["other_accuracy_std"]), str(r["seeds"])]
        if has_base:
            cells.append(f"{r['gflops'] / gflops[entry.baseline]:.3f}" if entry.baseline else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


# ----------------------------------------------------------------------------- cost check


def printed(value: float, decimals: int = PRECISION) -> tuple[float, float]:
    """(truncated, rounded half up) to `decimals`, as a table would print `value`."""
    scale = 10 ** decimals
    return math.floor(value * scale + 1e-9) / scale, math.floor(value * scale + 0.5) / scale


def _matches(value: float, published: float) -> Optional[str]:
    truncated, rounded = printed(value)
    if abs(truncated - published) < 1e-9:
        return "truncated"
    if abs(rounded - published) < 1e-9:
        return "rounded"
    return None


def _alternatives(exp, entry) -> list[tuple[str, object, str]]:
    """Other ways to count the row, tried to explain a published figure we do not hit:
    (what, genome, counter)."""
    from archspace.genome import PRESETS

    g, alts = entry.genome, []
    if g.crop != g.train_crop:
        alts.append((f"the test crop equal to the train crop ({g.train_crop}^2: the head pools to one position)",
                     g.replace(crop=g.train_crop), exp.counter))
    if entry.preset in PRESETS:
        p = PRESETS[entry.preset]
        if (p.frames, p.crop, p.train_crop) != (g.frames, g.crop, g.train_crop):
            alts.append((f"{entry.preset}'s own input ({p.frames} x {p.crop}^2, train crop {p.train_crop})",
                         g.replace(frames=p.frames, crop=p.crop, train_crop=p.train_crop), exp.counter))
            alts.append((f"{entry.preset}'s own train crop {p.train_crop}^2 as the test crop",
                         g.replace(frames=p.frames, crop=p.train_crop, train_crop=p.train_crop), exp.counter))
    alts.append(("400 classes (Kinetics) instead of " + str(g.classes), g.replace(classes=400), exp.counter))
    other = "fvcore" if exp.counter == "paper" else "paper"
    alts.append((f"the {other} convention (BatchNorm at 2 FLOPs per element)", g, other))
    alts.append(("BatchNorm at 1 FLOP per element (half the fvcore convention's BatchNorm)", g, "bn1"))
    return alts


def _count(genome, counter: str):
    """count(), plus "bn1": the paper convention with BatchNorm at 1 FLOP per element,
    halfway between paper (0) and fvcore (2), as some counters counted it."""
    if counter != "bn1":
        return count(genome, counter)
    paper, fvcore = count(genome, "paper"), count(genome, "fvcore")
    return dataclasses.replace(paper, flops=(paper.flops + fvcore.flops) // 2, counter="bn1")


FIGURES = {"params_m": ("params (M)", lambda c: c.params / 1e6), "gflops": ("GFLOPs", lambda c: c.flops / 1e9)}


def _published(exp):
    """(entry, key, label, value_of, published figure) for every published cost figure."""
    for entry in exp.genomes:
        for key, (label, value_of) in FIGURES.items():
            if entry.paper.get(key) is not None:
                yield entry, key, label, value_of, entry.paper[key]


def cost_check(exp) -> list[str]:
    """Lines saying, per published cost figure, whether ours prints the same (the paper
    truncates: 6.199 is 6.1), and for each that does not, by how much and why: which
    other way of counting it reproduces the figure, computed, or that none does."""
    figures = list(_published(exp))
    if not figures:
        return []
    rounded, missed = [], []
    for entry, _, label, value_of, published in figures:
        ours = value_of(count(entry.genome, exp.counter))
        how = _matches(ours, published)
        if how == "rounded":
            rounded.append(f"- {entry.name}, {label}: ours {ours:.4f} prints {published:g} only when rounded "
                           f"(truncated it is {printed(ours)[0]:.1f}): the paper mixes rounding and truncation.")
        elif how is None:
            missed.append(_explain(exp, entry, label, value_of, ours, published))
    lines = ["## Cost check against the published figures", ""]
    exact = len(figures) - len(rounded) - len(missed)
    lines.append(f"{exact} of {len(figures)} published cost figures are what ours prints truncated to "
                 f"{PRECISION} decimal, as the paper prints them" + (":" if rounded or missed else "; every row agrees."))
    return lines + rounded + missed + [""]


def _explain(exp, entry, label: str, value_of, ours: float, published: float) -> str:
    diff = ours - published
    text = (f"- {entry.name}, {label}: ours {ours:.4f} (prints {printed(ours)[0]:.1f} truncated, "
            f"{printed(ours)[1]:.1f} rounded), the paper {published:g}: {diff:+.3f} ({100 * diff / published:+.1f} %). ")
    tried = []
    for what, genome, counter in _alternatives(exp, entry):
        value = value_of(_count(genome, counter))
        how = _matches(value, published)
        if how and counter != exp.counter:
            # a convention explains a row only if it explains the rest of the table too
            table = [_matches(v(_count(e.genome, counter)), p) is not None for e, _, _, v, p in _published(exp)]
            ours_ok = [_matches(v(count(e.genome, exp.counter)), p) is not None for e, _, _, v, p in _published(exp)]
            return text + (f"Counted with {what} it is {value:.4f}, which prints {published:g} {how}; but that "
                           f"convention prints {sum(table)} of the table's {len(table)} published figures "
                           f"(ours: {sum(ours_ok)}), so it does not explain the table: the paper's figure for this "
                           "row matches no single convention we know."
                           + (f" Also tried: {'; '.join(tried)}." if tried else ""))
        if how:
            return text + (f"Counted with {what} it is {value:.4f}, which prints {published:g} {how}: the paper "
                           "likely counted this row at that input.")
        tried.append(f"{what}: {value:.3f}")
    return text + "No other counting we tried reproduces it (" + "; ".join(tried) + ")."


# ----------------------------------------------------------------------------- ordering


def ordering(exp, results) -> list[str]:
    """A sentence per declared pair: the paper's order, ours overall and on the
    order/tempo classes, agreeing or not, and whether our gap exceeds the seed spread."""
    first = results[results["proxy"] == results["proxy"].iloc[0]] if len(results) else results
    by_name = {r["name"]: r for r in first.to_dict("records")}
    lines, agree, total = [], 0, 0
    for a, b in exp.compare:
        ra, rb = by_name[a], by_name[b]
        pa, pb = ra["paper_top1"], rb["paper_top1"]
        cost = f"{ra['gflops']:.2f} vs {rb['gflops']:.2f} GFLOPs"
        if pa is None or pb is None or pa != pa or pb != pb:
            paper = "the paper gives no top-1 for both"
            sign = 0
        else:
            sign = (pa > pb) - (pa < pb)
            paper = (f"the paper has {a if sign > 0 else b} ahead ({pa:.1f} vs {pb:.1f})" if sign
                     else f"the paper has them level ({pa:.1f})")
        parts = [f"- **{a}** vs **{b}** ({cost}): {paper}."]
        for split, what in (("accuracy", "overall"), ("order_tempo_accuracy", "on the order/tempo-pair classes")):
            ma, mb = ra[f"{split}_mean"], rb[f"{split}_mean"]
            if ma is None or mb is None or ma != ma or mb != mb:
                parts.append(f"Ours {what}: not measured.")
                continue
            ours = 0 if abs(ma - mb) < 1e-9 else (1 if ma > mb else -1)  # equal counts: level, not float noise
            spread = max(s for s in (ra[f"{split}_std"], rb[f"{split}_std"], 0.0) if s is not None and s == s)
            gap = 100 * abs(ma - mb)
            noise = ("larger than" if gap > 100 * spread else "within") + f" the seed spread (std up to {100 * spread:.1f})"
            verdict = "" if not sign else " - does not separate them" if not ours else \
                " - agrees with the paper" if ours == sign else " - disagrees with the paper"
            if split == "accuracy" and sign and ours:
                total += 1
                agree += ours == sign
            leader = a if ours > 0 else b
            parts.append(f"Ours {what}: {_pct(ma, None)} vs {_pct(mb, None)}, "
                         + (f"{leader} ahead by {gap:.1f} points" if ours else "level") + f", {noise}{verdict}.")
        lines.append(" ".join(parts))
    if total:
        lines += ["", f"Overall accuracy orders {agree} of the {total} pairs it separates as the paper does."]
    tau = _paper_tau(first)
    if tau is not None:
        lines.append(f"Kendall's tau between the paper's top-1 and our overall accuracy over the "
                     f"{tau[1]} rows with both: {tau[0]:+.2f}.")
    return lines


def _paper_tau(results) -> Optional[tuple[float, int]]:
    from scipy.stats import kendalltau

    both = results.dropna(subset=["paper_top1", "accuracy_mean"])
    if len(both) < 3:
        return None
    tau = kendalltau(both["paper_top1"], both["accuracy_mean"]).statistic
    return (float(tau), len(both)) if tau == tau else None
