"""The trials table: one row per trial, made from the Optuna study (the source of truth)
and the cached reference rows, written atomically as CSV and Parquet.

Every plot and analysis reads this table, so a table made by hand with the same columns
works everywhere.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Iterable

from archspace.analysis.trials import COLUMNS, STATES, read_table, searched_front, trained_trials  # noqa: F401 - used by search
from archspace.io import write_bytes_atomic, write_text_atomic

# The columns and states are analysis's: it reads what this module writes.


def is_search_trial(trial) -> bool:
    """Whether a settled Optuna trial is a trial of the search (a row of the table):
    proposals that failed the constraints (never trained) and trials interrupted by a
    kill (their genomes are queued again) are not."""
    from optuna.trial import TrialState

    return (trial.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
            and not trial.user_attrs.get("infeasible") and not trial.user_attrs.get("interrupted"))


def trial_rows(trials: Iterable, knob_names: Iterable[str]) -> list[dict[str, Any]]:
    """Rows of the Optuna trials that are trials of the search (see is_search_trial)."""
    from optuna.trial import TrialState

    states = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.FAIL: "failed"}
    rows = []
    for t in trials:
        attrs = t.user_attrs
        if not is_search_trial(t):
            continue
        row = {
            "trial": t.number,
            "state": states[t.state],
            "accuracy": attrs.get("accuracy"),
            "accuracy_by_epoch": json.dumps(attrs.get("accuracy_by_epoch", [])),
            "epochs": attrs.get("epochs", 0),
            "reference": False,
            "preset": None,
            "reused_from": attrs.get("reused_from"),
            "node": attrs.get("node"),
            "error": attrs.get("error"),
            "genome": attrs.get("genome"),
            "wall_s": attrs.get("wall_s"),
            "latency_ms": attrs.get("latency_ms"),
        }
        row.update({k: attrs.get(k) for k in ("params", "flops", "acts", "gflops", "params_m", "proxy_classes",
                                               "proxy_frames", "proxy_crop")})
        knobs = json.loads(attrs.get("knobs", "{}"))
        row.update({name: _cell(knobs.get(name)) for name in knob_names})
        rows.append(row)
    return rows


def reference_row(preset: str, result: dict, knob_names: Iterable[str]) -> dict[str, Any]:
    """A reference preset's row (its result dict holds the same fields as a trial's)."""
    row = {c: result.get(c) for c in COLUMNS}
    row.update(trial=None, state=result.get("state", "complete"), reference=True, preset=preset,
               accuracy_by_epoch=json.dumps(result.get("accuracy_by_epoch", [])))
    row.update({name: None for name in knob_names})
    return row


def frame(rows: list[dict], knob_names: Iterable[str]):
    """The rows as a DataFrame with the standard columns first, then the knobs."""
    import pandas as pd

    columns = COLUMNS + [k for k in knob_names if k not in COLUMNS]
    df = pd.DataFrame(rows, columns=columns)
    df["trial"] = df["trial"].astype("Int64")
    for name in ("params", "flops", "acts", "epochs", "proxy_classes", "proxy_frames", "proxy_crop", "reused_from"):
        df[name] = pd.to_numeric(df[name]).astype("Int64")
    df["reference"] = df["reference"].astype(bool)
    for name in knob_names:  # integer knobs stay integers beside the references' empty cells
        values = [r.get(name) for r in rows if r.get(name) is not None]
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            df[name] = df[name].astype("Int64")
    return df


def write_table(df, folder: Path) -> None:
    """trials.csv and trials.parquet, each replaced atomically."""
    write_text_atomic(folder / "trials.csv", df.to_csv(index=False))
    buffer = io.BytesIO()
    df.to_parquet(buffer, index=False)
    write_bytes_atomic(folder / "trials.parquet", buffer.getvalue())


def _cell(value: Any) -> Any:
    """Knob values as table cells: lists (per-stage depths) as their JSON text."""
    return json.dumps(value) if isinstance(value, (list, tuple)) else value
