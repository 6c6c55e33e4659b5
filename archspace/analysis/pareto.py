"""Pareto ranks and fronts of a trials table.

    objectives = {"accuracy": "max", "gflops": "min"}
    pareto_rank(df, objectives)    # Series aligned with df: 0 = the front, 1 = the next layer, ...
    pareto_front(df, objectives)   # the front's rows, sorted by the first cost objective
"""

from __future__ import annotations

import numpy as np

from archspace.errors import UserError


def _oriented(df, objectives: dict) -> np.ndarray:
    """Values as a (n, k) array where smaller is better in every column."""
    for name, direction in objectives.items():
        if name not in df.columns:
            raise UserError(f"objective {name!r} is not a column of the table; columns: {', '.join(map(str, df.columns))}")
        if direction not in ("max", "min"):
            raise UserError(f"objective {name!r}: direction must be max or min; got {direction!r}")
    columns = [df[name].astype(float).to_numpy() * (-1.0 if d == "max" else 1.0) for name, d in objectives.items()]
    return np.stack(columns, axis=1) if columns else np.empty((len(df), 0))


def pareto_rank(df, objectives: dict):
    """Non-dominated sorting: rank 0 for rows no other row dominates, 1 for rows only
    rank-0 rows dominate, and so on. Rows with a missing objective get rank NaN.

    A row dominates another when it is at least as good in every objective and better
    in one. Returns a pandas Series of ranks aligned with df.
    """
    import pandas as pd

    values = _oriented(df, objectives)
    valid = ~np.isnan(values).any(axis=1)
    ranks = np.full(len(df), np.nan)
    left = np.flatnonzero(valid)
    rank = 0
    while left.size:
        v = values[left]
        dominated = ((v[None, :, :] <= v[:, None, :]).all(-1) & (v[None, :, :] < v[:, None, :]).any(-1)).any(1)
        ranks[left[~dominated]] = rank
        left = left[dominated]
        rank += 1
    return pd.Series(ranks, index=df.index, name="pareto_rank")


def pareto_front(df, objectives: dict):
    """The rows of rank 0, sorted by the first cost (min) objective, else the first one."""
    ranks = pareto_rank(df, objectives)
    front = df[ranks == 0]
    by = next((k for k, d in objectives.items() if d == "min"), next(iter(objectives), None))
    return front.sort_values(by) if by is not None and len(front) else front
