"""Finished proxy trainings, cached per (genome, proxy settings, seed, data) under the
archspace cache folder, so later runs reuse them: the search's reference presets, and
every training of `archspace experiment` (which may reuse a search's references, and
the other way round, when genome, proxy, seed and data agree)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from archspace.io import write_json_atomic
from archspace.search.data import cache_root
from archspace.search.plan import SearchPlan


def reference_file(key: str) -> Path:
    return cache_root() / "references" / f"{key}.json"


def cached_result(key: str) -> Optional[dict]:
    """The cached row of the training with this key (SearchPlan.key), or None."""
    path = reference_file(key)
    return json.loads(path.read_text()) if path.exists() else None


def cache_result(key: str, row: dict) -> None:
    """Keep a complete training's row for later runs (failed ones are not cached, so a
    later run tries again)."""
    if row.get("state") == "complete":
        write_json_atomic(reference_file(key), row)


def save_reference(plan: SearchPlan, name: str, key: str, state: str, attrs: dict) -> None:
    """A reference preset's result (state complete, pruned or failed), kept as the run's
    row and cached for later runs."""
    genome = plan.reference_genome(name)
    spec = plan.spec(genome)
    row = dict(attrs, **plan.cost_attrs(plan.space.cost(genome)), preset=name, genome=json.dumps(genome.to_dict()),
               proxy_frames=spec.proxy_frames, proxy_crop=spec.proxy_crop, state=state)
    plan.reference_rows[name] = row
    cache_result(key, row)


def cached_references(plan: SearchPlan, names) -> tuple[dict, list[str]]:
    """(rows found in the cache by preset, presets still to train)."""
    rows, missing = {}, []
    for name in names:
        genome = plan.reference_genome(name)
        row = cached_result(plan.key(plan.spec(genome)))
        if row is not None:  # the cost as this space counts it (an experiment may cache another convention)
            rows[name] = dict(row, **plan.cost_attrs(plan.space.cost(genome)))
        else:
            missing.append(name)
    return rows, missing
