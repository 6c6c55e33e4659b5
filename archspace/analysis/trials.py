"""The trials table as analysis reads it: its columns, a checked reader, the trials that
compete for the front, and the run folder's side files (space.yaml, search.json).

The search writes the table (archspace/search/table.py) with these columns; a table
made by hand needs only REQUIRED, the others get empty defaults.

    >>> import pandas as pd
    >>> df = checked_table(pd.DataFrame({"trial": [0, 1], "state": ["complete", "pruned"],
    ...                                  "accuracy": [0.5, 0.2], "gflops": [1.0, 2.0],
    ...                                  "params_m": [1.5, 2.5]}))
    >>> trained_trials(df)["trial"].tolist()
    [0]
"""

from __future__ import annotations

import json
from pathlib import Path

from archspace.errors import UserError

# Columns every table the search writes has, in order; one column per knob follows them.
COLUMNS = [
    "trial", "state", "accuracy", "accuracy_by_epoch", "epochs", "params", "flops", "acts", "gflops", "params_m",
    "latency_ms", "proxy_classes", "proxy_frames", "proxy_crop", "wall_s", "reference", "preset", "reused_from",
    "node", "error", "genome",
]
# Per-trial results and bookkeeping that some tables add (an experiment's: the accuracy
# split by class kind, per-class hits, where a row came from, its training key): columns,
# not knobs. An experiment's `name`, `proxy` and `seed` stay knobs: the report groups by them.
DETAILS = ("order_tempo_accuracy", "other_accuracy", "per_class", "source", "key")
STATES = ("complete", "pruned", "failed")
# What analysis cannot do without; the other columns default to empty.
REQUIRED = ("trial", "state", "accuracy", "gflops", "params_m")
NUMERIC = ("accuracy", "gflops", "params_m", "latency_ms", "wall_s")
WHOLE = ("trial", "reused_from", "epochs", "params", "flops", "acts", "proxy_classes", "proxy_frames", "proxy_crop")
DEFAULT_OBJECTIVES = {"accuracy": "max", "gflops": "min"}
COSTS = ("gflops", "params_m", "latency_ms")  # the cost axes a report can draw


def read_table(folder: str | Path):
    """The trials table of a run folder (trials.parquet if present, else trials.csv),
    checked with checked_table. Raises UserError for a folder without a table or a table
    that cannot be read."""
    import pandas as pd

    folder = Path(folder)
    for name, reader in (("trials.parquet", pd.read_parquet), ("trials.csv", pd.read_csv)):
        path = folder / name
        if path.exists():
            try:
                df = reader(path)
            except Exception as exc:  # noqa: BLE001 - pyarrow and pandas raise many types for a bad file
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise UserError(f"cannot read trials table {str(path)!r}: {first}") from None
            return checked_table(df, str(path))
    raise UserError(f"{str(folder)!r} holds no trials table (trials.parquet or trials.csv): is it a search run folder?")


def checked_table(df, name: str = "the trials table"):
    """df with the REQUIRED columns checked (present, the right types, states known) and
    the optional columns filled with empty defaults. Raises UserError naming the first
    problem."""
    import pandas as pd

    if df.empty:
        raise UserError(f"{name} holds no trials")
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise UserError(f"{name} is not a trials table: missing column(s) {', '.join(missing)} "
                        f"(needs {', '.join(REQUIRED)})")
    df = df.copy()
    for column in NUMERIC + WHOLE:
        if column in df.columns:
            values = df[column]
            converted = pd.to_numeric(values, errors="coerce")
            bad = converted.isna() & values.notna() & (values.astype(str).str.strip() != "")
            if bad.any():
                raise UserError(f"{name}: column {column!r} must hold numbers; row {int(bad.to_numpy().argmax())} "
                                f"holds {values[bad].iloc[0]!r}")
            converted = converted.astype(float)
            if column in WHOLE:
                fraction = converted.notna() & (converted != converted.round())
                if fraction.any():
                    raise UserError(f"{name}: column {column!r} must hold whole numbers; got {values[fraction].iloc[0]!r}")
                converted = converted.astype("Int64")
            df[column] = converted
    unknown = sorted(set(df["state"].dropna().astype(str)) - set(STATES))
    if unknown or df["state"].isna().any():
        raise UserError(f"{name}: column 'state' holds {unknown[0] if unknown else 'an empty cell'!r}; "
                        f"allowed: {', '.join(STATES)}")
    defaults = {"reference": False, "preset": None, "reused_from": float("nan"), "accuracy_by_epoch": "[]",
                "genome": None, "error": None, "latency_ms": float("nan")}
    for column, value in defaults.items():
        if column not in df.columns:
            df[column] = value
    df["reference"] = df["reference"].map(_flag)
    return df


def _flag(value) -> bool:
    """A reference cell as a bool: CSV gives True/False, hand-made tables may give 0/1 or text."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value) if value == value and value is not None else False  # NaN: not a reference


def knob_columns(df) -> list[str]:
    """The knob columns: everything that is not a standard column or a result detail."""
    return [c for c in df.columns if c not in COLUMNS and c not in DETAILS]


def searched(df):
    """The searched trials (reference presets left out)."""
    return df[~df["reference"].astype(bool)]


def trained_trials(df):
    """The searched trials that trained to the full proxy budget, each genome once (a
    reused row repeats its source's genome and result)."""
    return df[(~df["reference"].astype(bool)) & (df["state"] == "complete") & df["reused_from"].isna()]


def searched_front(df, objectives: dict):
    """The searched trials on the Pareto front: complete ones only (ASHA-stopped trials
    carry low-budget accuracies), a reused row counted once (through its source), sorted
    by the first cost objective. `archspace export --front` writes these genomes."""
    from archspace.analysis.pareto import pareto_front

    return pareto_front(trained_trials(df), objectives)


def run_objectives(run: str | Path) -> dict:
    """The objectives of the space a run was made with (its space.yaml copy), else the default."""
    import yaml

    copy = Path(run) / "space.yaml"
    try:
        raw = yaml.safe_load(copy.read_text()) if copy.exists() else None
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        raw = None
    objectives = raw.get("objectives") if isinstance(raw, dict) else None
    return dict(objectives) if isinstance(objectives, dict) and objectives else dict(DEFAULT_OBJECTIVES)


def run_settings(run: str | Path) -> dict:
    """search.json of a run folder (settings, counts, wall time, machine), or an
    experiment's experiment.json (the same keys), or {} without either."""
    for name in ("search.json", "experiment.json"):
        try:
            data = json.loads((Path(run) / name).read_text())
        except (OSError, ValueError):
            continue
        return data if isinstance(data, dict) else {}
    return {}
