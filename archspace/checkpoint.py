"""Checkpoints: everything needed to rebuild the model and continue training exactly.

A checkpoint holds the genome (so the network can be rebuilt with no other file), the
model, optimiser and RNG states, the recipe, the epoch and the metrics history. It is
written atomically: a crash while saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from archspace.errors import UserError
from archspace.genome import Genome
from archspace.io import write_bytes_atomic

FORMAT = "archspace-checkpoint-1"


def rng_state() -> dict[str, Any]:
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, **fields: Any) -> None:
    """torch.save of {format, **fields} through a temp file and rename."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **fields}, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint onto the CPU; a missing or foreign file raises UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no checkpoint file at {str(path)!r}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a truncated or foreign file: torch raises many kinds
        raise UserError(f"cannot read checkpoint {str(path)!r}: {str(exc).splitlines()[0][:200]}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError(f"{str(path)!r} is not an archspace checkpoint (convert foreign weights with `archspace convert`)")
    return data


def load_model(path: str | Path, device: str = "cpu") -> torch.nn.Module:
    """The model of a checkpoint, rebuilt from its genome, with its weights, in eval mode.

    `model.classes` holds the class names it was trained on (index = label), or None for
    a checkpoint that does not record them (converted weights, older runs)."""
    from archspace.models import build_model

    data = read_checkpoint(path)
    model = build_model(Genome.from_dict(data["genome"]))
    model.load_state_dict(data["model"])
    model.classes = data.get("classes")
    return model.to(device).eval()
