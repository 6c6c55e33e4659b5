"""Which torch device a user asked for: the one place that checks the name and that CUDA
is there, for measuring (archspace.measure) and training (archspace.train.device)."""

from __future__ import annotations

import torch

from archspace.errors import UserError


def resolve_device(name: str) -> torch.device:
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise UserError(f"unknown device {name!r}; choose cpu or cuda")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("device cuda was asked for but torch sees no CUDA GPU here; use --device cpu")
    return torch.device(name)
