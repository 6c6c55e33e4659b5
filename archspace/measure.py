"""Measured cost on this device: forward latency and peak memory of one batch.

Unlike archspace.cost this runs the network, so it takes seconds, not microseconds.
"""

from __future__ import annotations

import resource
import statistics
import time
from dataclasses import asdict, dataclass

import torch

from archspace.device import resolve_device
from archspace.errors import UserError
from archspace.genome import Genome
from archspace.models import build_model


@dataclass(frozen=True)
class Measurement:
    device: str
    batch: int
    threads: int
    warmup: int
    repeats: int
    latency_ms: float  # median forward time of one batch
    latency_ms_min: float
    peak_memory_mib: float  # MiB (2**20 bytes); CUDA: peak allocated; CPU: growth of the process's peak RSS

    def to_dict(self) -> dict:
        return asdict(self)


def measure(genome: Genome, device: str = "cpu", batch: int = 1, warmup: int = 2, repeats: int = 5) -> Measurement:
    """Median forward latency (after `warmup` runs) and peak memory in eval mode."""
    if warmup < 0 or repeats < 1 or batch < 1:
        raise UserError("measure needs batch >= 1, warmup >= 0 and repeats >= 1")
    dev = resolve_device(device)
    model = build_model(genome).eval().to(dev)
    clip = torch.randn(batch, 3, genome.frames, genome.crop, genome.crop, device=dev)
    cuda = dev.type == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize(dev)

    if cuda:
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
    else:
        base = _peak_rss_bytes()
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            sync()
            start = time.perf_counter()
            model(clip)
            sync()
            if i >= warmup:
                times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated(dev) - base) if cuda else max(0, _peak_rss_bytes() - base)
    return Measurement(
        device=str(dev),
        batch=batch,
        threads=torch.get_num_threads(),
        warmup=warmup,
        repeats=repeats,
        latency_ms=statistics.median(times) * 1e3,
        latency_ms_min=min(times) * 1e3,
        peak_memory_mib=peak / 2**20,
    )


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
