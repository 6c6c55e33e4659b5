"""Reference presets' rows: trained on the same proxy as the search, cached per (preset,
proxy settings, seed, data) under the archspace cache folder, so later runs reuse them."""

from __future__ import annotations

import json
from pathlib import Path

from archspace.io import write_json_atomic
from archspace.search.data import cache_root
from archspace.search.plan import SearchPlan


def reference_file(key: str) -> Path:
    return cache_root() / "references" / f"{key}.json"


def save_reference(plan: SearchPlan, name: str, key: str, state, attrs: dict) -> None:
    """A reference preset's result, cached per (preset, proxy settings, seed) for later runs
    (failed ones are not cached, so a later run tries again)."""
    from optuna.trial import TrialState

    genome = plan.reference_genome(name)
    spec = plan.spec(genome)
    row = dict(attrs, **plan.cost_attrs(plan.space.cost(genome)), preset=name, genome=json.dumps(genome.to_dict()),
               proxy_frames=spec.proxy_frames, proxy_crop=spec.proxy_crop,
               state={TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned"}.get(state, "failed"))
    plan.reference_rows[name] = row
    if row["state"] == "complete":
        write_json_atomic(reference_file(key), row)


def cached_references(plan: SearchPlan, names) -> tuple[dict, list[str]]:
    """(rows found in the cache by preset, presets still to train)."""
    rows, missing = {}, []
    for name in names:
        spec = plan.spec(plan.reference_genome(name))
        path = reference_file(plan.key(spec))
        if path.exists():
            rows[name] = json.loads(path.read_text())
        else:
            missing.append(name)
    return rows, missing
