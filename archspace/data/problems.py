"""A record of files that could not be used as they are: skipped or padded.

Each file is recorded once and counted by kind, so a run that meets a bad file keeps
going and says so at the end. Only the first few files of each kind are named in a
logging warning as they are met (a data set with thousands of short videos must not
bury the progress bar); the rest are counted, and the journal lists them all. Data-loader workers are
separate processes with their own copy of the log: after `share(path)`, every log made
from this one writes its records to a journal file there, warns only about files the
journal does not name yet, and `collect()` brings the workers' records back.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from pathlib import Path

log = logging.getLogger("archspace.data")

EXAMPLES = 3  # files named per kind while running; the others only in counts and the journal

# What happened to the file.
KINDS = {
    "missing": "skipped",  # named in the annotations, no such file
    "outside": "skipped",  # named in the annotations, but out of the data folder: never opened
    "empty": "skipped",  # zero bytes
    "unreadable": "skipped",  # not a video, truncated past use, no decodable frame
    "padded": "padded",  # fewer frames than the clip: frames repeated
}


class ProblemLog:
    """Files skipped or padded, one entry per (kind, file); warns the first time only."""

    def __init__(self):
        self._entries: dict[tuple[str, str], str] = {}
        self._counts: Counter = Counter()  # files per kind, kept with _entries
        self._journal: Path | None = None

    def record(self, kind: str, name: str, reason: str) -> bool:
        """Note a problem; returns True the first time this (kind, file) is seen."""
        if kind not in KINDS:
            raise ValueError(f"unknown problem kind {kind!r}; choose from {', '.join(KINDS)}")
        key = (kind, name)
        if key in self._entries:
            return False
        if self._journal is not None:
            self.collect()  # another process may have named it already
            if key in self._entries:
                return False
        self._add(key, reason)
        n = self._counts[kind]
        if n <= EXAMPLES:
            log.warning("%s %s: %s", KINDS[kind], name, reason)
        elif n == EXAMPLES + 1:
            log.warning("%s: more files than these %d; counted, not named one by one", kind, EXAMPLES)
        if self._journal is not None:
            self._append(kind, name, reason)
        return True

    def share(self, journal: str | Path) -> None:
        """Keep a journal at `journal` (JSON lines) that lists every record of this log and
        of its copies in other processes (data-loader workers, other ranks); see collect()."""
        self._journal = Path(journal)
        shared = self._read_journal()
        for (kind, name), reason in self._entries.items():
            if (kind, name) not in shared:
                self._append(kind, name, reason)
        self.collect()

    def collect(self) -> None:
        """Add the records that other processes wrote to the journal (already warned there)."""
        for key, reason in self._read_journal().items():
            self._add(key, reason)

    def _add(self, key: tuple[str, str], reason: str) -> None:
        if key not in self._entries:
            self._entries[key] = reason
            self._counts[key[0]] += 1

    def _read_journal(self) -> dict[tuple[str, str], str]:
        if self._journal is None or not self._journal.exists():
            return {}
        entries = {}
        for line in self._journal.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:  # a line cut short by a killed process
                continue
            entries.setdefault((entry["kind"], entry["file"]), entry["reason"])
        return entries

    def _append(self, kind: str, name: str, reason: str) -> None:
        line = json.dumps({"kind": kind, "file": name, "reason": reason}) + "\n"
        # One short O_APPEND write per record: lines from several processes never interleave.
        fd = os.open(self._journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)  # umask applies, as for open()
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def counts(self) -> dict[str, int]:
        """Number of files per kind (kinds with none are left out)."""
        return {kind: n for kind, n in self._counts.items() if n}

    def files(self, kind: str | None = None) -> list[str]:
        """File names with a problem (of `kind`, or any), sorted."""
        return sorted({name for k, name in self._entries if kind is None or k == kind})

    def skipped(self) -> list[str]:
        return sorted({name for k, name in self._entries if KINDS[k] == "skipped"})

    def as_list(self) -> list[dict]:
        return [{"kind": k, "file": n, "reason": r} for (k, n), r in sorted(self._entries.items())]

    def __len__(self) -> int:
        return len(self._entries)
