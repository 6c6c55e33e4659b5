"""Chosen genomes of a search as YAML files, one command away from full training:

    archspace export runs/vov3d --front --out chosen/
    archspace train --genome chosen/trial-0007.yaml --data DIR --out runs/full-7
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from archspace.analysis.trials import read_table, run_objectives, searched_front, trained_trials
from archspace.errors import UserError
from archspace.genome import Genome


def export_genomes(run: str | Path, out: str | Path, top: Optional[int] = None) -> list[Path]:
    """Write the front's genomes (or the `top` most accurate complete trials') into `out`
    as trial-NNNN.yaml; returns the paths. Reference presets are not exported (they are
    presets already). Raises UserError for a folder without a trials table, an empty
    choice or an --out that is a file."""
    run, out = Path(run), Path(out)
    if top is not None and top < 1:
        raise UserError(f"--top must be >= 1; got {top}")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {str(out)!r} is a file; give a folder")
    df = read_table(run)
    done = trained_trials(df)
    if done.empty:
        raise UserError(f"{str(run)!r} has no complete trials yet: nothing to export")
    chosen = done.nlargest(top, "accuracy") if top is not None else searched_front(df, run_objectives(run))
    written = []
    for _, row in chosen.iterrows():
        genome = Genome.from_dict(json.loads(row["genome"]))
        path = out / f"trial-{int(row['trial']):04d}.yaml"
        genome.save(path)
        written.append(path)
    return written
