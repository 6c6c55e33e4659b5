"""Checkpoints: everything needed to rebuild the model and continue training exactly.

A checkpoint holds the genome (so the network can be rebuilt with no other file), the
model, optimiser and RNG states, the recipe, the epoch and the metrics history, all as
tensors and plain types, so that it loads with torch's weights-only unpickler and never
runs code. It is written atomically: a crash while saving leaves the previous one intact.

A `.safetensors` weights file (`export-weights`, `convert --out x.safetensors`) holds the
model's tensors, with the genome and class names as JSON in its metadata: a complete
model too, in a format that holds no code at all.
"""

from __future__ import annotations

import io
import json
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from archspace.errors import UserError
from archspace.genome import Genome
from archspace.io import write_bytes_atomic
from archspace.safe_load import is_safetensors, load_pickle, read_safetensors, safetensors_bytes

FORMAT = "archspace-checkpoint-1"
WEIGHTS_FORMAT = "archspace-weights-1"  # the "format" metadata of archspace's .safetensors
CHECKPOINT = "checkpoint.pt"  # the checkpoint of a run folder

# Checkpoints written before checkpoints were plain kept numpy's RNG key as an ndarray of
# uint32: these are exactly the types it takes to rebuild one (no function of the file's choice).
_OLD_NUMPY_RNG = (np._core.multiarray._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32)))


def rng_state() -> dict[str, Any]:
    numpy_state = np.random.get_state(legacy=False)
    numpy_state["state"]["key"] = numpy_state["state"]["key"].tolist()  # plain ints, not an ndarray
    state = {
        "python": random.getstate(),
        "numpy": numpy_state,
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # numpy takes its own tuple (old checkpoints) or the dict
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, **fields: Any) -> None:
    """torch.save of {format, **fields} through a temp file and rename."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **fields}, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def checkpoint_path(path: str | Path) -> Path:
    """The checkpoint file a user named: the file itself, or the checkpoint.pt of a run folder."""
    path = Path(path)
    if path.is_dir():
        if not (path / CHECKPOINT).is_file():
            raise UserError(f"{str(path)!r} is a folder without a {CHECKPOINT}: name a checkpoint file or a run folder")
        return path / CHECKPOINT
    if not path.is_file():
        raise UserError(f"no checkpoint file at {str(path)!r}")
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint (or a run folder's, or a .safetensors weights file as {genome, model,
    classes?}) loaded onto the CPU without running code; UserError for a missing, foreign
    or unsafe file."""
    path = checkpoint_path(path)
    if is_safetensors(path):
        return _read_weights(path)
    not_ours = (f"{str(path)!r} is not an archspace checkpoint (train writes runs/<name>/{CHECKPOINT}; "
                "bring foreign weights in with `archspace convert`)")
    if not zipfile.is_zipfile(path):  # torch.save always writes a zip; a text file, a legacy pickle...
        raise UserError(not_ours)
    data = load_pickle(path, allow=_OLD_NUMPY_RNG,
                       advice="archspace checkpoints hold nothing else, so this file was not written by archspace")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError(not_ours)
    return data


def save_weights(path: str | Path, genome: Genome, state: dict[str, torch.Tensor], *,
                 classes: list[str] | None = None, **metadata: str) -> None:
    """A .safetensors file of `state` with the genome (and class names) as JSON metadata."""
    if not is_safetensors(path):
        raise UserError(f"weights go to a .safetensors file; got {str(path)!r}")
    header = {"format": WEIGHTS_FORMAT, "genome": json.dumps(genome.to_dict()), **metadata}
    if classes is not None:
        header["classes"] = json.dumps(list(classes))
    write_bytes_atomic(path, safetensors_bytes(state, header))


def export_weights(checkpoint: str | Path, out: str | Path) -> None:
    """The model of an archspace checkpoint (or run folder) as a .safetensors weights file."""
    data = read_checkpoint(checkpoint)
    save_weights(out, Genome.from_dict(data["genome"]), data["model"], classes=data.get("classes"),
                 exported_from=str(checkpoint))


def _read_weights(path: Path) -> dict[str, Any]:
    state, metadata = read_safetensors(path)
    if metadata.get("format") != WEIGHTS_FORMAT or "genome" not in metadata:
        raise UserError(f"{str(path)!r} has no archspace genome in its metadata (not written by export-weights "
                        "or convert); bring it in with `archspace convert --from SOURCE FILE --arch ...`")
    try:
        data = {"genome": json.loads(metadata["genome"]), "model": state}
        if "classes" in metadata:
            data["classes"] = json.loads(metadata["classes"])
    except ValueError:
        raise UserError(f"{str(path)!r}: the genome or class names in its metadata are not JSON") from None
    return data


def load_model(path: str | Path, device: str = "cpu") -> torch.nn.Module:
    """The model of a checkpoint, run folder or .safetensors weights file, rebuilt from its
    genome, with its weights, in eval mode. Nothing in the file is run.

    `model.classes` holds the class names it was trained on (index = label), or None for
    a checkpoint that does not record them (converted weights, older runs)."""
    return model_from(read_checkpoint(path), path).to(device).eval()


def model_from(data: dict[str, Any], path: str | Path) -> torch.nn.Module:
    """The model of a checkpoint read from `path` (named in errors), in train mode on the
    CPU, with `model.classes` as in load_model."""
    from archspace.models import build_model

    model = build_model(Genome.from_dict(data["genome"]))
    try:
        model.load_state_dict(data["model"])
    except RuntimeError as exc:  # a file edited or assembled by hand
        detail = (str(exc).splitlines()[1:] or [""])[0].strip()[:200]
        raise UserError(f"the weights in {str(path)!r} do not fit its genome ({detail})") from None
    model.classes = data.get("classes")
    return model
