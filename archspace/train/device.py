"""Where training runs: device, bf16 autocast, channels_last_3d, torch.compile, DDP.

One `Runtime` carries these choices through the training and evaluation loops, so the
loops read the same on a laptop CPU and on eight GPUs under `torchrun`.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from archspace.errors import UserError
from archspace.device import resolve_device


@dataclass
class Runtime:
    device: torch.device
    amp: bool = False  # bf16 autocast
    channels_last: bool = False  # channels_last_3d for weights and clips
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def autocast(self):
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def to_device(self, clips: torch.Tensor) -> torch.Tensor:
        clips = clips.to(self.device, non_blocking=True)
        if self.channels_last and clips.ndim == 5:
            clips = clips.contiguous(memory_format=torch.channels_last_3d)
        return clips

    def prepare(self, model: nn.Module, sync_bn: bool = False, compile: bool = False) -> nn.Module:
        """Move, re-layout, wrap for DDP and optionally compile; returns the module to call."""
        if sync_bn and self.distributed:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last_3d)
        if self.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        if compile:
            model = torch.compile(model)
        return model

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        if not self.distributed:
            return tensor
        t = tensor.to(self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.cpu()

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


def init_runtime(device: str = "cpu", amp: bool = False, channels_last: bool = False) -> Runtime:
    """A Runtime for this process; under torchrun (WORLD_SIZE > 1) it joins the group:
    NCCL with one GPU per process on CUDA, gloo on CPU."""
    if device.startswith("cuda:"):
        raise UserError(f"give --device cuda (the GPU comes from LOCAL_RANK under torchrun); got {device!r}")
    resolve_device(device)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    dev = torch.device(device)
    if device == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device == "cuda" else "gloo")
    return Runtime(dev, amp=amp, channels_last=channels_last, rank=rank, world_size=world_size)
