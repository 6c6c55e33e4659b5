"""How far a proxy can be trusted: the rank agreement between each proxy's accuracies
and a longer reference proxy's, over the same genomes (Kendall's tau and Spearman's rho,
scipy.stats), with a bootstrap interval over genomes, and the seed-to-seed spread.

Measured alternatives come for free from the same trainings: a single seed against the
mean of the seeds (what averaging seeds buys), and every other proxy of the experiment.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

WEAK, STRONG = 0.4, 0.7  # |tau| below WEAK is weak, from STRONG on strong


def accuracy_matrix(trials, proxy: str, names: list[str]) -> np.ndarray:
    """(genomes, seeds) accuracies of the complete trainings of `proxy` (NaN where missing)."""
    done = trials[(trials["proxy"] == proxy) & (trials["state"] == "complete")]
    seeds = sorted(int(s) for s in trials["seed"].dropna().unique())
    out = np.full((len(names), len(seeds)), np.nan)
    for r in done.to_dict("records"):
        out[names.index(r["name"]), seeds.index(int(r["seed"]))] = r["accuracy"]
    return out


def rank_agreement(x: np.ndarray, y: np.ndarray, bootstrap: int = 2000, seed: int = 0) -> dict:
    """tau, rho and a 95% percentile bootstrap interval of tau (genomes resampled with
    replacement; resamples whose ranks are all tied are skipped). NaN pairs are dropped."""
    from scipy.stats import kendalltau, spearmanr

    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    result = {"n": int(len(x)), "tau": None, "rho": None, "tau_low": None, "tau_high": None}
    if len(x) < 3:
        return result
    result["tau"] = _finite(kendalltau(x, y).statistic)
    result["rho"] = _finite(spearmanr(x, y).statistic)
    rng = np.random.default_rng(seed)
    taus = resampled_taus(x, y, rng.integers(0, len(x), (bootstrap, len(x))))
    if len(taus):
        result["tau_low"], result["tau_high"] = (float(v) for v in np.percentile(taus, [2.5, 97.5]))
    return result


def resampled_taus(x: np.ndarray, y: np.ndarray, resamples: np.ndarray) -> np.ndarray:
    """Kendall's tau-b (scipy.stats.kendalltau's default) of every resample at once, one
    row of genome indices each; resamples whose x or y ranks are all tied are left out.
    tau-b = (concordant - discordant) / sqrt((pairs - pairs tied in x) (pairs - pairs
    tied in y)). One kendalltau call per resample costs about a millisecond, which a
    2000-resample interval per proxy turned into most of an experiment's closing time."""
    n = resamples.shape[1]
    upper = np.triu(np.ones((n, n), dtype=bool), 1)  # each pair (i < j) once
    xs, ys = x[resamples], y[resamples]
    sx = np.sign(xs[:, :, None] - xs[:, None, :])[:, upper]
    sy = np.sign(ys[:, :, None] - ys[:, None, :])[:, upper]
    pairs = upper.sum()
    free_x, free_y = pairs - (sx == 0).sum(1), pairs - (sy == 0).sum(1)
    keep = (free_x > 0) & (free_y > 0)
    return (sx * sy).sum(1)[keep] / np.sqrt(free_x[keep] * free_y[keep])


def _finite(value) -> Optional[float]:
    return float(value) if value == value else None


def strength(tau: Optional[float]) -> str:
    if tau is None:
        return "not measurable"
    return "weak" if abs(tau) < WEAK else "strong" if abs(tau) >= STRONG else "moderate"


def _fmt(a: dict) -> str:
    if a["tau"] is None:
        return f"not measurable ({a['n']} genomes with results)"
    interval = (f", 95% bootstrap interval [{a['tau_low']:+.2f}, {a['tau_high']:+.2f}]"
                if a["tau_low"] is not None else "")
    rho = f", Spearman {a['rho']:+.2f}" if a["rho"] is not None else ""
    return f"Kendall tau {a['tau']:+.2f}{interval}{rho} over {a['n']} genomes"


def fidelity_section(exp, trials) -> list[str]:
    """results.md's proxy-fidelity section, every figure computed from `trials`."""
    f = exp.fidelity
    names = [e.name for e in exp.genomes]
    ref = accuracy_matrix(trials, f["reference"], names)
    ref_mean = np.nanmean(ref, axis=1) if ref.size else ref
    lines = ["## Proxy fidelity", "",
             f"Rankings of the {len(names)} genomes by mean accuracy over the seeds, each proxy against the "
             f"`{f['reference']}` proxy (the reference ranking):", ""]
    results = {}
    for proxy in f["proxies"]:
        acc = accuracy_matrix(trials, proxy, names)
        mean = np.nanmean(acc, axis=1)
        results[proxy] = a = rank_agreement(mean, ref_mean, f["bootstrap"])
        lines.append(f"- `{proxy}` (seed mean) vs `{f['reference']}`: {_fmt(a)}: {strength(a['tau'])}.")
        for s in range(acc.shape[1]):
            single = rank_agreement(acc[:, s], ref_mean, f["bootstrap"])
            results[f"{proxy}, seed {s} alone"] = single
            lines.append(f"  - `{proxy}`, seed {s} alone: {_fmt(single)}.")
    lines += ["", "Seed-to-seed spread (the same genome and proxy, another seed):", ""]
    for proxy in f["proxies"] + [f["reference"]]:
        acc = accuracy_matrix(trials, proxy, names)
        if acc.shape[1] < 2:
            lines.append(f"- `{proxy}`: one seed, no spread measured.")
            continue
        std = np.nanstd(acc, axis=1, ddof=1)
        between = rank_agreement(acc[:, 0], acc[:, 1], f["bootstrap"])
        lines.append(f"- `{proxy}`: std over seeds {100 * np.nanmean(std):.1f} points on average (largest "
                     f"{100 * np.nanmax(std):.1f}); seed 0 vs seed 1 ranking: {_fmt(between)}.")
    lines += ["", verdict(f, results)]
    return lines


def _one_seed(results: dict, proxy: str) -> tuple[Optional[float], int]:
    """The mean tau of `proxy`'s single seeds against the reference, and how many seeds
    (None below two: one seed's tau is its seed mean's)."""
    taus = [v["tau"] for k, v in results.items() if k.startswith(f"{proxy}, seed") and v["tau"] is not None]
    return (float(np.mean(taus)), len(taus)) if len(taus) > 1 else (None, len(taus))


def verdict(f: dict, results: dict) -> str:
    """What the numbers say: how strongly the first proxy's ranking (seed mean) agrees with
    the reference's, and what each measured alternative changes: one seed instead of the
    mean of the seeds, and the experiment's other proxies."""
    main, ref = f["proxies"][0], f["reference"]
    tau = results[main]["tau"]
    if tau is None:
        return f"Verdict: the `{main}` proxy's agreement with `{ref}` could not be measured (too few results)."
    text = (f"Verdict: the `{main}` proxy's ranking (mean of the seeds) agrees {strength(tau)}ly with `{ref}`'s "
            f"(tau {tau:+.2f}).")
    single, seeds = _one_seed(results, main)
    if single is not None:
        text += (f" One seed alone gives tau {single:+.2f} on average: averaging {seeds} seeds "
                 + (f"improves it by {tau - single:+.2f}." if tau > single else "does not improve it."))
    for proxy in f["proxies"][1:]:
        other = results[proxy]["tau"]
        if other is None:
            continue
        text += f" The `{proxy}` proxy gives tau {other:+.2f}, " + ("better." if other > tau else "no better.")
        alone, _ = _one_seed(results, proxy)
        if alone is not None and single is not None:
            # a search trains each genome once: one seed of a proxy is what it ranks with
            text += (f" One seed of it alone gives {alone:+.2f} on average, against {single:+.2f} for `{main}`: "
                     + ("better" if alone > single else "no better") + " for a search that trains each genome once.")
    if strength(tau) == "weak":
        text += (" Weak: read a front found with this proxy as a hint, and confirm it with more seeds or a "
                 "longer proxy before full training.")
    return text
