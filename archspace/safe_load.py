"""Reading weight files without running code from them.

A torch checkpoint is a pickle, and unpickling can call any function the file names.
`load_pickle` uses torch's weights-only unpickler, which builds tensors and plain types
(dict, list, tuple, str, numbers, None) and refuses everything else; the refusal names
the objects the file asked for. Only `trust=True` (the user's explicit `--trust-pickle`)
unpickles in full. safetensors files hold raw tensors and a JSON header, no code at all.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

from archspace.errors import UserError

SAFETENSORS = ".safetensors"


class UnsafePickle(UserError):
    """The file needs objects beyond tensors and plain types to load: loading it would run
    code that the file names."""

    def __init__(self, path: Path, names: list[str], advice: str):
        self.names = names
        listed = ", ".join(names) if names else "an object outside tensors and plain types"
        super().__init__(f"{str(path)!r} was not loaded: it names {listed}, and only tensors and plain types "
                         f"load without running code the file chooses; {advice}")


def is_safetensors(path: str | Path) -> bool:
    return Path(path).suffix == SAFETENSORS


def load_pickle(path: str | Path, *, advice: str, allow: tuple = (), trust: bool = False) -> Any:
    """The object in a torch.save file, on the CPU, built by the weights-only unpickler with
    `allow` (exact types or functions) added; `trust=True` unpickles in full.

    Raises UnsafePickle (naming what the file asked for, then `advice`) and UserError for a
    missing or unreadable file.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no checkpoint file at {str(path)!r}")
    try:
        if trust:
            return torch.load(path, map_location="cpu", weights_only=False)
        with torch.serialization.safe_globals(list(allow)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        names = _refused_names(path, str(exc))
        if names is not None:
            raise UnsafePickle(path, names, advice) from None
        raise UserError(f"cannot read {str(path)!r}: it is not a file written by torch.save") from None
    except Exception as exc:  # truncated, not a pickle, a text file: torch raises many kinds
        detail = "" if isinstance(exc, KeyError) or not str(exc) else f" ({str(exc).splitlines()[0][:200]})"
        raise UserError(f"cannot read {str(path)!r}: not a file written by torch.save{detail}") from None


def _refused_names(path: Path, message: str) -> list[str] | None:
    """What the weights-only unpickler refused: every global a zip checkpoint names beyond the
    allowed ones (read from its pickle, nothing run), else the one in torch's message; None
    when the failure was not a refusal."""
    named = re.findall(r"GLOBAL ([\w.]+)", message) + re.findall(r"but got <class '([\w.]+)'>", message)
    if not named:
        return None
    try:
        listed = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # legacy (non-zip) files cannot be listed statically
        listed = []
    return sorted(set(listed or named))


def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and the text metadata of a .safetensors file; UserError if unreadable."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise UserError(f"no weights file at {str(path)!r}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            return {key: f.get_tensor(key) for key in f.keys()}, dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(f"cannot read {str(path)!r} as safetensors: {str(exc).splitlines()[0][:200]}") from None


def safetensors_bytes(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """A .safetensors file's content: contiguous CPU copies of `tensors` and text `metadata`."""
    from safetensors.torch import save

    return save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, metadata=metadata)
