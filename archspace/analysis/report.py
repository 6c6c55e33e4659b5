"""The HTML report of a search run (or of several, compared): one self-contained file.

    from archspace.analysis.report import write_report, write_compare
    write_report("runs/vov3d")                       # runs/vov3d/report.html
    write_compare(["runs/vov3d", "runs/x3d"], "compare.html")

The page holds plotly.js once, inlined, and the run's data once, as a JSON block; the
script report.js (beside this file) draws every figure from that block. Every text that
comes from data (knob values, preset names, genome YAML, errors) reaches the page only
through that JSON block, escaped so it cannot close the block, and report.js puts it on
the page as text, never as markup.
"""

from __future__ import annotations

import datetime
import html
import json
import math
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from archspace.analysis.edf import grouped_edfs
from archspace.analysis.pareto import hypervolume, hypervolume_history, pareto_front, reference_point
from archspace.analysis.trials import (
    COSTS,
    knob_columns,
    read_table,
    run_objectives,
    run_settings,
    searched,
    searched_front,
    trained_trials,
)
from archspace.errors import UserError
from archspace.io import write_text_atomic

REPORT_FILE = "report.html"
EDF_BINS = 40  # the NDS notebook's
RESULTS_MD = "results.md"  # written by `archspace experiment` beside its trials table
MAX_EDF_GROUPS = 12  # a knob with more distinct values is not drawn as grouped EDFs
_ASSETS = Path(__file__).resolve().parent


# ----------------------------------------------------------------------------- data of one run


def run_data(run: str | Path, x: Optional[str] = None, bootstrap: int = 200) -> dict:
    """Everything the report of one run shows, as plain JSON-able values. Raises UserError
    for a missing or bad trials table, or an `x` the table cannot draw."""
    run = Path(run)
    df = read_table(run).reset_index(drop=True)
    settings = run_settings(run)
    objectives = run_objectives(run)
    costs = [c for c in COSTS if c in df.columns and df[c].notna().any()]
    x = x or next((k for k in objectives if k in COSTS), "gflops")
    if x not in COSTS:
        raise UserError(f"--x {x!r}: choose one of {', '.join(COSTS)}")
    if x not in costs:
        raise UserError(f"--x {x}: the trials table of {str(run)!r} has no {x} values "
                        f"(it has {', '.join(costs) or 'no cost column'})")
    knobs = knob_columns(df)
    trained = trained_trials(df)
    hv_objectives = {"accuracy": "max", x: "min"}
    # every row's cost, so the point covers the space and stays put while a search runs
    reference = reference_point(df, hv_objectives)
    return {
        "name": settings.get("name") or run.resolve().name,
        "folder": str(run),
        "meta": _meta(run, df, settings, objectives),
        "objectives": objectives,
        "x": x,
        "costs": [x] + [c for c in costs if c != x],
        "knobs": knobs,
        "rows": [_row(i, r, knobs) for i, r in df.iterrows()],
        "fronts": {c: _indices(pareto_front(trained, {"accuracy": "max", c: "min"})) for c in costs},
        "run_front": _indices(searched_front(df, objectives)) if all(k in df.columns for k in objectives) else [],
        "hypervolume": _hypervolume(df, hv_objectives, reference),
        "edfs": _knob_edfs(trained, knobs, x, bootstrap),
        # an experiment's table as the paper lays it out, shown as text
        "results_md": (run / RESULTS_MD).read_text() if (run / RESULTS_MD).is_file() else None,
    }


def _meta(run: Path, df, settings: dict, objectives: dict) -> dict:
    trials = searched(df)
    counts = {s: int((trials["state"] == s).sum()) for s in ("complete", "pruned", "failed")}
    inputs = {name: sorted(int(v) for v in df[column].dropna().unique()) if column in df else []
              for name, column in (("frames", "proxy_frames"), ("crop", "proxy_crop"))}
    machine = settings.get("machine") or {}
    cpus = [f"{machine['cpus']} CPUs"] if machine.get("cpus") else []
    return {
        "space": settings.get("space") or str(run / "space.yaml"),
        "status": settings.get("status"),
        "objectives": ", ".join(f"{k} {d}" for k, d in objectives.items()),
        "proxy_budget": settings.get("proxy_budget") or {},
        "proxy_data": settings.get("proxy_data"),
        "proxy_inputs": inputs,
        "search": {k: settings.get(k) for k in ("sampler", "scheduler", "seed", "trials", "concurrency")
                   if settings.get(k) is not None},
        "counts": {**counts, "references": int(df["reference"].sum()), "reused": int(trials["reused_from"].notna().sum())},
        "wall_s": settings.get("wall_s"),
        "machine": ", ".join([str(machine[k]) for k in ("host", "platform") if machine.get(k)] + cpus),
        "generated": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
    }


def _row(i: int, r, knobs: list[str]) -> dict:
    """One trial as the page needs it: numbers, knobs, accuracy by epoch, genome."""
    label = _preset_label(r["preset"]) if r["reference"] and _text(r.get("preset")) else None
    return {
        "i": i,
        "trial": _number(r["trial"]),
        "state": r["state"],
        "reference": bool(r["reference"]),
        "preset": _text(r.get("preset")),
        "label": label,
        "accuracy": _number(r["accuracy"]),
        "by_epoch": _by_epoch(r.get("accuracy_by_epoch")),
        **{c: _number(r.get(c)) for c in ("gflops", "params_m", "latency_ms", "params", "flops", "epochs", "reused_from")},
        "knobs": {k: _text(r[k]) if not _is_number(r[k]) else _number(r[k]) for k in knobs},
        "yaml": _genome_yaml(r.get("genome")),  # the hover shows it too, folded
        "error": _text(r.get("error")),
    }


def _genome_yaml(cell) -> Optional[str]:
    """The YAML `archspace export` writes for a genome cell (JSON); the cell's text as it
    is when it holds no valid genome."""
    from archspace.genome import Genome, GenomeError

    text = _text(cell)
    if not text:
        return None
    try:
        return Genome.from_dict(json.loads(text)).to_yaml()
    except (ValueError, TypeError, GenomeError):
        return text


def _preset_label(name: str) -> str:
    """vov3d_m -> VoV3D-M, x3d_l -> X3D-L; other names as they are."""
    family, _, rest = name.partition("_")
    pretty = {"vov3d": "VoV3D", "x3d": "X3D"}.get(family)
    return f"{pretty}-{rest.replace('_', '-').upper()}" if pretty and rest else name


def _by_epoch(cell) -> list:
    try:
        values = json.loads(cell) if isinstance(cell, str) else list(cell if cell is not None else [])
    except (ValueError, TypeError):
        return []
    return [_number(v) for v in values] if isinstance(values, list) else []


def _is_number(value) -> bool:
    try:
        return not isinstance(value, (str, bool)) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _number(value):
    """A finite number as int or float; None for missing."""
    if value is None or not _is_number(value):
        return None
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _text(value) -> Optional[str]:
    """A cell as text; None for an empty cell (None, NaN, pd.NA)."""
    import pandas as pd

    return None if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) else str(value)


def _indices(rows) -> list[int]:
    return [int(i) for i in rows.index]


def _hypervolume(df, objectives: dict, reference: dict) -> dict:
    """The final hypervolume of the trained trials and its history over every searched
    trial number (a pruned or failed trial leaves it where it was)."""
    trained = trained_trials(df)
    history = hypervolume_history(trained, objectives, reference) if len(trained) else None
    numbers = sorted(int(t) for t in searched(df)["trial"].dropna())
    values, volume, k = [], 0.0, 0
    for n in numbers:
        while history is not None and k < len(history) and history["trial"].iloc[k] <= n:
            volume = float(history["hypervolume"].iloc[k])
            k += 1
        values.append(volume)
    return {"objectives": objectives, "reference": reference, "final": hypervolume(trained, objectives, reference),
            "trial": numbers, "value": values}


def _knob_edfs(trained, knobs: list[str], cost: str, bootstrap: int) -> list[dict]:
    """Error EDFs of the trained trials grouped by each knob with 2..MAX_EDF_GROUPS values,
    plain and normalised by `cost`."""
    errors = trained.assign(error=1.0 - trained["accuracy"].astype(float))
    out = []
    for knob in knobs:
        values = errors[knob].dropna().astype(str)
        if not 2 <= values.nunique() <= MAX_EDF_GROUPS:
            continue
        table = errors.assign(**{knob: errors[knob].map(_text)})
        out.append({"knob": knob, **_edf_pair(table, knob, cost, bootstrap)})
    return out


def _edf_pair(table, by: str, cost: str, bootstrap: int) -> dict:
    plain = grouped_edfs(table, by, cost=None, samples=bootstrap)
    normalised = grouped_edfs(table, by, cost=cost, bins=EDF_BINS, samples=bootstrap)
    return {"cost": cost, "bins": EDF_BINS, "plain": [_jsonable(g) for g in plain],
            "normalised": [_jsonable(g) for g in normalised]}


def _jsonable(group: dict) -> dict:
    return {k: ([round(float(v), 6) for v in x] if hasattr(x, "__len__") and not isinstance(x, str) else
                (_text(x) if k == "value" else x)) for k, x in group.items()}


# ----------------------------------------------------------------------------- compare


def compare_data(runs: Sequence[str | Path], x: Optional[str] = None, bootstrap: int = 200) -> dict:
    """The data of several runs, with hypervolumes on one reference point and EDFs of the
    runs against each other."""
    import pandas as pd

    if len(runs) < 2:
        raise UserError("compare needs at least two run folders")
    parts = [run_data(r, x, bootstrap=0) for r in runs]
    x = x or parts[0]["x"]
    names = _unique([p["name"] for p in parts])
    for p, name in zip(parts, names):
        p["name"] = name
        if x not in p["costs"]:
            raise UserError(f"--x {x}: run {p['folder']!r} has no {x} values")
        p["edfs"] = []
    tables = [read_table(r).assign(run=name) for r, name in zip(runs, names)]
    objectives = {"accuracy": "max", x: "min"}
    reference = reference_point(pd.concat(tables, ignore_index=True), objectives)
    for p, table in zip(parts, tables):
        p["hypervolume"] = _hypervolume(table, objectives, reference)
    trained = pd.concat([trained_trials(t) for t in tables], ignore_index=True)
    errors = trained.assign(error=1.0 - trained["accuracy"].astype(float))
    return {"compare": True, "x": x, "runs": parts, "edf_runs": {"knob": "run", **_edf_pair(errors, "run", x, bootstrap)}}


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


# ----------------------------------------------------------------------------- the page


def render(data: dict, title: str) -> str:
    """The HTML page: plotly.js once, the data once (as JSON), report.js draws the rest."""
    from plotly.offline import get_plotlyjs

    blob = json.dumps(data, allow_nan=False, separators=(",", ":"))
    # inside <script>, "</script>" or "<!--" in a string would end or change the block
    blob = blob.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    script = "\n" + (_ASSETS / "report.js").read_text()
    plotly_js = get_plotlyjs()
    style = (_ASSETS / "report.css").read_text()
    # Only these two scripts may run (by hash): no inline handler such as onerror=, even if
    # one reached the page; nothing may be fetched (default-src 'none').
    hashes = " ".join(f"'sha256-{_sha256(code)}'" for code in (plotly_js, script))
    policy = (f"default-src 'none'; script-src {hashes} 'unsafe-eval'; style-src 'unsafe-inline'; "
              "img-src data: blob:; font-src data:")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{policy}\">\n"
        f"<title>{html.escape(title)}</title>\n<style>\n{style}</style>\n"
        f"<script>{plotly_js}</script>\n</head>\n<body>\n<main id=\"report\"></main>\n"
        f"<script type=\"application/json\" id=\"report-data\">{blob}</script>\n"
        f"<script>{script}</script>\n</body>\n</html>\n"
    )


def _sha256(code: str) -> str:
    import base64
    import hashlib

    return base64.b64encode(hashlib.sha256(code.encode("utf-8")).digest()).decode("ascii")


def write_report(run: str | Path, out: str | Path | None = None, x: Optional[str] = None) -> Path:
    """Write the report of one run (default RUN/report.html) atomically; returns its path."""
    data = run_data(run, x)
    path = Path(out) if out is not None else Path(run) / REPORT_FILE
    _check_out(path)
    write_text_atomic(path, render(data, f"archspace report: {data['name']}"))
    return path


def write_compare(runs: Sequence[str | Path], out: str | Path, x: Optional[str] = None) -> Path:
    """Write the report comparing several runs atomically; returns its path."""
    data = compare_data(runs, x)
    path = Path(out)
    _check_out(path)
    write_text_atomic(path, render(data, "archspace compare: " + " vs ".join(r["name"] for r in data["runs"])))
    return path


def _check_out(path: Path) -> None:
    if path.is_dir():
        raise UserError(f"--out {str(path)!r} is a folder; give a file name such as report.html")


def watch(run: str | Path, out: str | Path | None = None, x: Optional[str] = None, interval: float = 2.0,
          say: Callable[[str], None] = print) -> Path:
    """--live: rewrite the report each time the trials table changes, until search.json
    says the search is no longer running (a final report is written then); without a
    search.json, until interrupted. Returns the report's path."""
    run = Path(run)
    path = Path(out) if out is not None else run / REPORT_FILE
    seen = None
    while True:
        status = run_settings(run).get("status")
        stamp = tuple(_mtime(run / n) for n in ("trials.parquet", "trials.csv", "search.json"))
        if stamp != seen and (any(stamp[:2]) or status != "running"):
            try:
                write_report(run, path, x)
                say(f"report {path} updated ({time.strftime('%H:%M:%S')})")
            except UserError as exc:
                if status != "running":
                    raise
                say(f"report not written yet: {exc}")  # e.g. a table with no trial so far
        seen = stamp
        if status is not None and status != "running":
            return path
        time.sleep(interval)


def _mtime(path: Path) -> Optional[int]:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None
