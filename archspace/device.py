"""Which torch device a user asked for: the one place that checks the name and that CUDA
is there, for measuring (archspace.measure) and training (archspace.train.device). The
name is checked without torch, so a command line with a bad --device fails at once."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from archspace.errors import UserError

if TYPE_CHECKING:
    import torch


def check_device_name(name: str) -> str:
    """`name` if it is cpu, cuda or cuda:N; UserError otherwise."""
    if name in ("cpu", "cuda") or re.fullmatch(r"cuda:\d+", name):
        return name
    raise UserError(f"unknown device {name!r}; choose cpu or cuda")


def resolve_device(name: str) -> "torch.device":
    import torch

    check_device_name(name)
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("device cuda was asked for but torch sees no CUDA GPU here; use --device cpu")
    return torch.device(name)
