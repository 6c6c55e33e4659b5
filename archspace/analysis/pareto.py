"""Pareto ranks, fronts and hypervolume of a trials table, with moocore as the judge of
dominance and the hypervolume indicator.

`objectives` maps a column to its direction, e.g. {"accuracy": "max", "gflops": "min"}.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"accuracy": [0.5, 0.6, 0.4, 0.6], "gflops": [1.0, 2.0, 2.0, 2.0]})
    >>> objectives = {"accuracy": "max", "gflops": "min"}
    >>> pareto_rank(df, objectives).tolist()      # the duplicates at (0.6, 2.0) share rank 0
    [0.0, 0.0, 1.0, 0.0]
    >>> pareto_front(df, objectives).index.tolist()
    [0, 1, 3]
    >>> hypervolume(df, objectives, {"accuracy": 0.0, "gflops": 3.0})   # 0.5 * 2 + 0.1 * 1
    1.1
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from archspace.errors import UserError


def _checked(df, objectives: Mapping[str, str]) -> None:
    if not objectives:
        raise UserError("give at least one objective, e.g. {'accuracy': 'max', 'gflops': 'min'}")
    for name, direction in objectives.items():
        if name not in df.columns:
            raise UserError(f"objective {name!r} is not a column of the table; columns: {', '.join(map(str, df.columns))}")
        if direction not in ("max", "min"):
            raise UserError(f"objective {name!r}: direction must be max or min; got {direction!r}")


def _values(df, objectives: Mapping[str, str]) -> np.ndarray:
    """The objective columns as a float (n, k) array, as they are (no flipping)."""
    _checked(df, objectives)
    return np.stack([df[name].astype(float).to_numpy() for name in objectives], axis=1)


def _maximise(objectives: Mapping[str, str]) -> list[bool]:
    return [d == "max" for d in objectives.values()]


def pareto_rank(df, objectives: Mapping[str, str]):
    """Non-dominated sorting: a pandas Series aligned with df, 0 for the rows no other row
    dominates, 1 for the rows only rank-0 rows dominate, and so on. A row dominates
    another when it is at least as good in every objective and better in one, so equal
    rows share a rank. Rows with a missing objective get NaN.

        >>> import pandas as pd
        >>> t = pd.DataFrame({"accuracy": [0.3, 0.2, 0.1, None], "gflops": [3.0, 2.0, 3.0, 1.0]})
        >>> pareto_rank(t, {"accuracy": "max", "gflops": "min"}).tolist()
        [0.0, 0.0, 1.0, nan]
    """
    import moocore
    import pandas as pd

    values = _values(df, objectives)
    valid = ~np.isnan(values).any(axis=1)
    ranks = np.full(len(df), np.nan)
    if valid.any():
        ranks[valid] = moocore.pareto_rank(values[valid], maximise=_maximise(objectives))
    return pd.Series(ranks, index=df.index, name="pareto_rank")


def pareto_front(df, objectives: Mapping[str, str]):
    """The rows of rank 0, sorted by the first cost ("min") objective (else the first
    objective), ties kept in table order.

        >>> import pandas as pd
        >>> t = pd.DataFrame({"accuracy": [0.3, 0.2, 0.1], "gflops": [3.0, 2.0, 3.0]})
        >>> pareto_front(t, {"accuracy": "max", "gflops": "min"})["gflops"].tolist()
        [2.0, 3.0]
    """
    front = df[pareto_rank(df, objectives) == 0]
    by = next((k for k, d in objectives.items() if d == "min"), next(iter(objectives)))
    return front.sort_values(by, kind="stable")


def _reference(objectives: Mapping[str, str], reference) -> np.ndarray:
    if isinstance(reference, Mapping):
        missing = [k for k in objectives if k not in reference]
        if missing:
            raise UserError(f"the reference point has no value for {', '.join(missing)}")
        reference = [reference[k] for k in objectives]
    ref = np.asarray(reference, dtype=float)
    if ref.shape != (len(objectives),):
        raise UserError(f"the reference point needs {len(objectives)} values, one per objective; got {list(ref)}")
    return ref


def hypervolume(df, objectives: Mapping[str, str], reference: Mapping[str, float] | Sequence[float]) -> float:
    """The hypervolume the rows dominate up to `reference` (a mapping objective -> value,
    or values in the order of `objectives`), computed by moocore. Rows with a missing
    objective and rows not better than the reference in every objective add nothing.

        >>> import pandas as pd
        >>> t = pd.DataFrame({"accuracy": [0.2, 0.3], "gflops": [1.0, 2.0]})
        >>> round(hypervolume(t, {"accuracy": "max", "gflops": "min"}, [0.0, 4.0]), 6)   # 0.2*3 + 0.1*2
        0.8
    """
    import moocore

    values = _values(df, objectives)
    ref = _reference(objectives, reference)
    values = values[~np.isnan(values).any(axis=1)]
    maximise = np.array(_maximise(objectives))
    better = np.where(maximise, values > ref, values < ref).all(axis=1)  # moocore wants points inside the box
    if not better.any():
        return 0.0
    return float(moocore.hypervolume(values[better], ref=ref, maximise=maximise))


def hypervolume_history(df, objectives: Mapping[str, str], reference, order: str = "trial"):
    """The hypervolume of the rows seen so far, after each row in `order` (a column, e.g.
    the trial number): a DataFrame with that column and `hypervolume`, one row per row of
    df. Pass only the rows that compete (e.g. trained_trials) to leave the others out.

        >>> import pandas as pd
        >>> t = pd.DataFrame({"trial": [2, 0, 1], "accuracy": [0.3, 0.2, 0.1], "gflops": [2.0, 1.0, 1.0]})
        >>> hypervolume_history(t, {"accuracy": "max", "gflops": "min"}, [0.0, 4.0])["hypervolume"].round(6).tolist()
        [0.6, 0.6, 0.8]
    """
    import pandas as pd

    ordered = df.sort_values(order, kind="stable")
    ref = _reference(objectives, reference)
    volumes = [hypervolume(ordered.iloc[: i + 1], objectives, ref) for i in range(len(ordered))]
    return pd.DataFrame({order: ordered[order].to_numpy(), "hypervolume": volumes})


def reference_point(df, objectives: Mapping[str, str]) -> dict[str, float]:
    """A reference point every row of df improves on: 0 (or the minimum, if lower) for a
    maximised objective such as accuracy, 1.1 x the maximum for a minimised cost. Pass
    one table holding all runs to compare their hypervolumes on the same point.

        >>> import pandas as pd
        >>> reference_point(pd.DataFrame({"accuracy": [0.2], "gflops": [5.0]}), {"accuracy": "max", "gflops": "min"})
        {'accuracy': 0.0, 'gflops': 5.5}
    """
    values = _values(df, objectives)
    point = {}
    for i, (name, direction) in enumerate(objectives.items()):
        column = values[:, i][~np.isnan(values[:, i])]
        if direction == "max":
            point[name] = float(min(0.0, column.min())) if column.size else 0.0
        else:
            point[name] = float(1.1 * column.max()) if column.size else 1.0
    return point
