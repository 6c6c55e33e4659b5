"""The proxy task's data: the synthetic benchmark generated on first use, or a user's
folder, and its clip caches built by one process at a time.

Generated data and caches live under the archspace cache folder (`ARCHSPACE_CACHE`, or
`.archspace-cache/` in the working directory), so every search reuses them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from archspace.cachedir import cache_root
from archspace.errors import UserError
from archspace.io import file_lock


def synth_folder(options: dict) -> Path:
    """Where the synthetic benchmark with these generator options lives."""
    key = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:10]
    return cache_root() / f"synth-{key}"


def resolve_proxy_data(data: str, synth_options: dict, progress: bool = True) -> Path:
    """The data folder of the proxy: `synth` generates (or reuses) the synthetic
    benchmark; anything else must be an existing folder. Returns an absolute path."""
    if data == "synth":
        from archspace.data.synth import generate

        folder = synth_folder(synth_options)
        with file_lock(folder.with_suffix(".lock")):
            manifest = folder / "synth.json"
            if not (manifest.exists() and json.loads(manifest.read_text()).get("complete")):
                # generate's default: a process per core from synth.POOL_FROM_VIDEOS videos on
                generate(folder, progress=progress, **synth_options)
        return folder
    folder = Path(data).expanduser().resolve()
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise UserError(f"proxy data folder {data!r} {what}; give a data set folder or 'synth'")
    return folder


def proxy_cache_dir(data: Path) -> Path:
    """Clip caches of a proxy data folder: beside the data for generated sets, in the
    archspace cache folder for a user's (which may be read-only)."""
    root = cache_root()
    if root in data.parents:
        return data / ".archspace-cache"
    return root / "clips" / hashlib.sha256(str(data).encode()).hexdigest()[:10]
