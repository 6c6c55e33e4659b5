"""torch's own schedulers as the judge of a learning-rate schedule (tests only)."""

import torch
from torch import nn


def torch_lrs(make_scheduler, iterations: int, peak: float) -> list[float]:
    """The lr that `make_scheduler(optimizer)` gives each of `iterations` optimiser steps."""
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=peak)
    scheduler = make_scheduler(optimizer)
    lrs = []
    for _ in range(iterations):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs
