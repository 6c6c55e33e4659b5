"""The archspace cache folder: what lies in it, how large it is, and removing it.

Generated proxy data, clip caches of user data, reference results and measured
latencies live in `$ARCHSPACE_CACHE`, or `.archspace-cache/` in the working directory;
clip caches of a data folder live in `DIR/.archspace-cache/`. Everything in them can be
made again (at the cost of the time it took).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from archspace.errors import UserError

CACHE_DIRNAME = ".archspace-cache"

# What each kind of entry holds, by name prefix.
_KINDS = (
    ("synth-", "synthetic benchmark generated for a search's proxy"),
    ("clips", "clip caches of proxy data folders"),
    ("references", "proxy results of the reference presets"),
    ("latency", "measured latencies"),
    ("train-", "clip cache of a training split"),
    ("val-", "clip cache of a validation split"),
)


@dataclass(frozen=True)
class CacheEntry:
    name: str
    bytes: int
    what: str


def cache_root() -> Path:
    """The archspace cache folder: $ARCHSPACE_CACHE, or .archspace-cache/ here (absolute)."""
    return Path(os.environ.get("ARCHSPACE_CACHE", CACHE_DIRNAME)).resolve()


def cache_folder(where: str | Path | None = None) -> Path:
    """The cache folder meant by `where`: None -> cache_root(); a data folder -> its
    .archspace-cache/; a cache folder itself (named .archspace-cache) -> as it is."""
    if where is None:
        return cache_root()
    where = Path(where)
    if where.is_file():
        raise UserError(f"{where} is a file; give a data folder or a {CACHE_DIRNAME} folder")
    return where if where.name == CACHE_DIRNAME else where / CACHE_DIRNAME


def size_of(path: Path) -> int:
    """Bytes in the files under `path` (a file: its size); links are not followed."""
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size
    return sum(f.lstat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def list_cache(folder: Path) -> list[CacheEntry]:
    """The entries of a cache folder, largest first; [] when it does not exist."""
    if not folder.is_dir():
        return []
    entries = []
    for path in folder.iterdir():
        if path.name.endswith(".lock"):
            continue  # an empty file that builders take turns on, not cached data
        what = next((text for prefix, text in _KINDS if path.name.startswith(prefix)), "")
        if path.name.endswith(".partial"):
            what = f"unfinished {what or 'build'} (resumed by the next build)"
        entries.append(CacheEntry(path.name, size_of(path), what))
    return sorted(entries, key=lambda e: (-e.bytes, e.name))


def clear_cache(folder: Path) -> int:
    """Remove a cache folder; returns the bytes freed (0 when there was none)."""
    if folder.name != CACHE_DIRNAME and folder != cache_root():
        raise UserError(f"{folder} is not an archspace cache folder; nothing removed")
    if not folder.is_dir():
        return 0
    freed = size_of(folder)
    shutil.rmtree(folder)
    return freed


def mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"
