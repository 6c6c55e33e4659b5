"""Waiting on a run that another process writes (searches and experiments under test)."""

from __future__ import annotations

import time
from pathlib import Path


def wait_for_rows(path: Path, rows: int, proc, timeout: float, poll_s: float = 0.5) -> None:
    """Return once the trials table at `path` has `rows` rows; fail if `proc` ends first
    (with its stderr) or `timeout` seconds pass."""
    import pandas as pd

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        if path.exists() and len(pd.read_csv(path)) >= rows:
            return
        time.sleep(poll_s)
    raise AssertionError(f"{path} did not reach {rows} rows in {timeout} s")
