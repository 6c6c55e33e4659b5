"""Costing many related genomes fast: count each distinct stage once, then add.

`cost.count` sums a network stage by stage (stem, stage2..stageN, head). A stage's cost
depends only on the genome's scalar fields, the stage's own (depth, inner, out) widths
and the shape it receives; the stem's and the head's likewise. A search space repeats the
same stages in many genomes (a million genomes may hold a few thousand distinct stages),
so `StageCostMemo` calls `count` only for a genome that brings a stage it has not seen,
stores all that genome's stages, and costs every other genome by dictionary look-ups.

The keys hold every scalar field (not only those a stage reads today), so a new field that
a stage comes to depend on cannot make the memo stale; tests compare it with `count`.
"""

from __future__ import annotations

from dataclasses import fields as dataclass_fields
from operator import itemgetter

from archspace.cost import count
from archspace.genome import Genome

TUPLE_FIELDS = ("depths", "inner_widths", "out_widths")
SCALAR_FIELDS = tuple(f.name for f in dataclass_fields(Genome) if f.name not in TUPLE_FIELDS)
_scalars = itemgetter(*SCALAR_FIELDS)  # fields dict -> tuple of scalar values, at C speed


class StageCostMemo:
    """(params, flops) of genomes given as field dicts, from memoised per-stage costs."""

    def __init__(self, counter: str = "fvcore"):
        self.counter = counter
        self.counts = 0  # genomes that needed a full count
        self._scalar_ids: dict[tuple, int] = {}
        self._stem: dict = {}  # scalars id -> (params, flops, output shape)
        # (scalars id, depth, inner, out, input shape) -> (params, flops, output shape)
        self._stages: dict = {}
        self._head: dict = {}  # (scalars id, stages, input shape) -> (params, flops)

    def cost(self, fields: dict) -> tuple[int, int]:
        """(params, flops) of the genome with these `fields` (every Genome field, valid).

        Raises what `Genome(**fields)` or `count` raise, on the first sight of a stage.
        """
        scalars = _scalars(fields)
        sid = self._scalar_ids.get(scalars)
        if sid is None:
            sid = self._scalar_ids[scalars] = len(self._scalar_ids)
        hit = self._stem.get(sid)
        if hit is None:
            return self._count(fields, sid)
        params, flops, shape = hit
        for key in zip(fields["depths"], fields["inner_widths"], fields["out_widths"]):
            hit = self._stages.get((sid, *key, shape))
            if hit is None:
                return self._count(fields, sid)
            params, flops, shape = params + hit[0], flops + hit[1], hit[2]
        hit = self._head.get((sid, len(fields["depths"]), shape))
        if hit is None:
            return self._count(fields, sid)
        return params + hit[0], flops + hit[1]

    def _count(self, fields: dict, sid: int) -> tuple[int, int]:
        genome = Genome(**fields)
        cost = count(genome, self.counter)
        self.counts += 1
        stem, *stages, head = cost.stages
        if len(stages) != genome.num_stages:
            raise AssertionError(f"count gave {len(stages)} stage rows for {genome.num_stages} stages")
        self._stem[sid] = (stem.params, stem.flops, stem.output)
        shape = stem.output
        for stage, key in zip(stages, zip(genome.depths, genome.inner_widths, genome.out_widths)):
            self._stages[(sid, *key, shape)] = (stage.params, stage.flops, stage.output)
            shape = stage.output
        self._head[(sid, genome.num_stages, shape)] = (head.params, head.flops)
        return cost.params, cost.flops
