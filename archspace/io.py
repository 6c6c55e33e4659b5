"""Atomic file writes: a temp file in the same folder, fsync, then rename.

A reader never sees a half-written file and an interrupted write leaves the old one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Type

from archspace.errors import UserError


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_user_text(path: str | Path, what: str, error: Type[UserError] = UserError) -> str:
    """The text of a file the user named; `error` (one line naming the `what` file) when
    it cannot be read or is not UTF-8."""
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise error(f"cannot read {what} file {str(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise error(f"{what} file {str(path)!r} is not UTF-8 text") from None
