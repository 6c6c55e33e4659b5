"""Error EDFs of a design space, plain and complexity-normalised (Radosavovic et al.,
"On Network Design Spaces for Visual Recognition", 2019), grouped by a knob with a
bootstrap band.

The plain EDF is F(e) = the share of models with error below e. Two populations with
different cost distributions are not compared fairly by it (costlier models tend to be
better), so the normalised EDF bins the cost range into k bins and gives each of the
m_j models of bin j the weight 1/(k m_j): every bin of cost counts the same.

    >>> import numpy as np
    >>> errors = np.array([0.1, 0.2, 0.3, 0.4])
    >>> costs = np.array([1.0, 1.1, 1.2, 9.0])        # three cheap models, one costly
    >>> w = complexity_weights(costs, bins=2)          # cheap bin: 1/6 each, costly bin: 1/2
    >>> w.round(4).tolist()
    [0.1667, 0.1667, 0.1667, 0.5]
    >>> edf(errors)[1].tolist()                        # plain: 1/4 per model
    [0.25, 0.5, 0.75, 1.0]
    >>> edf(errors, w)[1].round(4).tolist()
    [0.1667, 0.3333, 0.5, 1.0]
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from archspace.errors import UserError


def edf(errors: Sequence[float], weights: Optional[Sequence[float]] = None) -> tuple[np.ndarray, np.ndarray]:
    """(sorted errors, cumulative share): the empirical distribution of `errors`, each
    model counting 1/n, or its weight (weights are rescaled to sum to 1; models with
    weight 0 drop out). Missing errors are left out.

        >>> xs, ys = edf([0.3, 0.1, 0.2])
        >>> xs.tolist(), ys.round(4).tolist()
        ([0.1, 0.2, 0.3], [0.3333, 0.6667, 1.0])
    """
    e = np.asarray(errors, dtype=float)
    w = np.ones_like(e) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != e.shape:
        raise UserError(f"edf: {e.size} errors but {w.size} weights")
    keep = ~np.isnan(e) & (w > 0)
    e, w = e[keep], w[keep]
    if not e.size:
        return e, e
    order = np.argsort(e, kind="stable")
    cumulative = np.cumsum(w[order])
    return e[order], cumulative / cumulative[-1]


def complexity_weights(costs: Sequence[float], bins: int = 40, range: Optional[tuple[float, float]] = None) -> np.ndarray:
    """Weights that make an EDF complexity-normalised: the range is cut into `bins` equal
    bins and each of the m_j models in bin j weighs 1/(k m_j), k the number of bins
    holding a model (the NDS notebook asserts all 40 are filled; a small search leaves
    some empty, and dropping them keeps the sum at 1). With `range` = (low, high) only
    models strictly inside it count (the others weigh 0), as in the NDS notebook;
    without, the range is the costs' own, ends included.

        >>> complexity_weights([1.0, 2.0, 2.1, 3.0], bins=2).tolist()     # bins [1, 2) and [2, 3]
        [0.5, 0.16666666666666666, 0.16666666666666666, 0.16666666666666666]
        >>> complexity_weights([1.0, 2.0, 3.0], bins=2, range=(1.0, 4.0)).tolist()   # 1.0 sits on the edge
        [0.0, 0.5, 0.5]
    """
    c = np.asarray(costs, dtype=float)
    if bins < 1:
        raise UserError(f"bins must be >= 1; got {bins}")
    known = ~np.isnan(c)
    if range is None:
        if not known.any():
            return np.zeros_like(c)
        low, high = float(c[known].min()), float(c[known].max())
        inside = known
    else:
        low, high = map(float, range)
        if not low < high:
            raise UserError(f"complexity range must be (low, high) with low < high; got {range}")
        inside = known & (c > low) & (c < high)
    weights = np.zeros_like(c)
    if not inside.any():
        return weights
    width = (high - low) / bins if high > low else 1.0
    index = np.minimum(((c[inside] - low) / width).astype(int), bins - 1)  # the top end joins the last bin
    counts = np.bincount(index, minlength=bins)
    weights[inside] = 1.0 / (np.count_nonzero(counts) * counts[index])
    return weights


def closed_range(costs) -> Optional[tuple[float, float]]:
    """The open range that holds every known cost, ends included (a hair wider than
    min..max), for complexity_weights; None without a known cost."""
    c = np.asarray(costs, dtype=float)
    c = c[~np.isnan(c)]
    if not c.size:
        return None
    low, high = float(c.min()), float(c.max())
    pad = (high - low) * 1e-9 or abs(high) * 1e-9 or 1e-9
    return low - pad, high + pad


def edf_band(errors, costs=None, grid=None, bins: int = 40, range=None, samples: int = 200, seed: int = 0,
             level: float = 0.95) -> dict[str, np.ndarray]:
    """The EDF of `errors` at the points of `grid` (plain, or normalised by `costs` on
    `range`, by default the costs' own) with a bootstrap band: the models are resampled
    with replacement `samples` times, weights recomputed in each resample on the same
    range, and the band holds the central `level` of the resampled EDFs. Returns
    {"x": grid, "y", "low", "high"} as arrays.

        >>> band = edf_band([0.1, 0.2, 0.3, 0.4], grid=[0.25], samples=100)
        >>> float(band["y"][0]), bool(band["low"][0] <= 0.5 <= band["high"][0])
        (0.5, True)
    """
    e = np.asarray(errors, dtype=float)
    c = None if costs is None else np.asarray(costs, dtype=float)
    if c is not None and range is None:
        range = closed_range(c)
    grid = np.unique(e[~np.isnan(e)]) if grid is None else np.asarray(grid, dtype=float)

    def curve(idx: np.ndarray) -> np.ndarray:
        weights = None if c is None or range is None else complexity_weights(c[idx], bins, range)
        xs, ys = edf(e[idx], weights)
        if not xs.size:
            return np.zeros_like(grid)
        at = np.searchsorted(xs, grid, side="right")  # F(g): the share with error <= g
        return np.where(at > 0, ys[np.maximum(at - 1, 0)], 0.0)

    y = curve(np.arange(e.size))
    if not e.size or samples < 1:
        return {"x": grid, "y": y, "low": y, "high": y}
    rng = np.random.default_rng(seed)
    draws = np.array([curve(rng.integers(0, e.size, e.size)) for _ in np.arange(samples)])
    tail = (1 - level) / 2 * 100
    return {"x": grid, "y": y, "low": np.percentile(draws, tail, axis=0),
            "high": np.percentile(draws, 100 - tail, axis=0)}


def grouped_edfs(df, by: str, error: str = "error", cost: Optional[str] = None, bins: int = 40,
                 samples: int = 200, seed: int = 0) -> list[dict]:
    """One EDF per value of the column `by` (a knob), all on one error grid and, when
    normalised by the column `cost`, on one cost range (the whole table's), so the
    curves compare. Each item: {"value", "n", "x", "y", "low", "high"}.

        >>> import pandas as pd
        >>> t = pd.DataFrame({"block": ["dw", "dw", "d2p1d"], "error": [0.8, 0.6, 0.7]})
        >>> [(g["value"], g["n"], g["y"].tolist()) for g in grouped_edfs(t, "block", samples=10)]
        [('d2p1d', 1, [0.0, 1.0, 1.0]), ('dw', 2, [0.5, 0.5, 1.0])]
    """
    rows = df[df[error].notna() & df[by].notna()]
    if cost is not None:
        rows = rows[rows[cost].notna()]
    grid = np.unique(rows[error].astype(float).to_numpy())
    range_ = None if cost is None else closed_range(rows[cost])
    groups = []
    for value, group in sorted(rows.groupby(by), key=lambda item: str(item[0])):
        costs = None if cost is None else group[cost].astype(float).to_numpy()
        band = edf_band(group[error].astype(float).to_numpy(), costs, grid=grid, bins=bins, range=range_,
                        samples=samples, seed=seed)
        groups.append({"value": value[0] if isinstance(value, tuple) else value, "n": int(len(group)), **band})
    return groups
