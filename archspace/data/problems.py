"""A record of files that could not be used as they are: skipped or padded.

Each file is reported once (a logging warning naming it), and counted by kind, so a
run that meets a bad file keeps going and says so at the end.
"""

from __future__ import annotations

import logging
from collections import Counter

log = logging.getLogger("archspace.data")

# What happened to the file.
KINDS = {
    "missing": "skipped",  # named in the annotations, no such file
    "empty": "skipped",  # zero bytes
    "unreadable": "skipped",  # not a video, truncated past use, no decodable frame
    "padded": "padded",  # fewer frames than the clip: frames repeated
}


class ProblemLog:
    """Files skipped or padded, one entry per (kind, file); warns the first time only."""

    def __init__(self):
        self._entries: dict[tuple[str, str], str] = {}

    def record(self, kind: str, name: str, reason: str) -> bool:
        """Note a problem; returns True the first time this (kind, file) is seen."""
        if kind not in KINDS:
            raise ValueError(f"unknown problem kind {kind!r}; choose from {', '.join(KINDS)}")
        key = (kind, name)
        if key in self._entries:
            return False
        self._entries[key] = reason
        log.warning("%s %s: %s", KINDS[kind], name, reason)
        return True

    def counts(self) -> dict[str, int]:
        """Number of files per kind (kinds with none are left out)."""
        return dict(Counter(kind for kind, _ in self._entries))

    def files(self, kind: str | None = None) -> list[str]:
        """File names with a problem (of `kind`, or any), sorted."""
        return sorted({name for k, name in self._entries if kind is None or k == kind})

    def skipped(self) -> list[str]:
        return sorted({name for k, name in self._entries if KINDS[k] == "skipped"})

    def as_list(self) -> list[dict]:
        return [{"kind": k, "file": n, "reason": r} for (k, n), r in sorted(self._entries.items())]

    def __len__(self) -> int:
        return len(self._entries)
