"""Atomic file writes: a temp file in the same folder, fsync, then rename.

A reader never sees a half-written file and an interrupted write leaves the old one.
Files get the mode a plain open(path, "w") would give: 0666 less the umask for a new
file, the old file's mode for one replaced, so colleagues can read shared runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from pathlib import Path
from typing import Any, Type

from archspace.errors import UserError


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically; UserError when `path` is a folder or lies
    under a file."""
    path = Path(path)
    make_folder(path.parent)
    if path.is_dir():
        raise UserError(f"{str(path)!r} is a folder; give a file name to write")
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    # os.open applies the umask to 0o666 as open() does (mkstemp would force 0600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            if path.exists():  # open() keeps the mode of a file it overwrites
                os.chmod(f.fileno(), path.stat().st_mode & 0o7777)
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


def make_folder(path: str | Path) -> Path:
    """mkdir -p; UserError (one line) when `path` or a folder above it is a file."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        what = "is a file" if path.is_file() else "lies under a file"
        raise UserError(f"{str(path)!r} {what}, not a folder; choose another path") from None
    return path


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


@contextlib.contextmanager
def file_lock(path: Path):
    """An exclusive lock on `path` (created if missing), held for the block: one process
    builds a shared file or folder (a clip cache, the proxy data) while the others wait,
    then reuse it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
