"""Evaluation: single- or multi-view testing with softmax averaging, top-1/top-5,
per-class accuracy and the confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from archspace.train.device import Runtime


@dataclass
class EvalResult:
    top1: float
    top5: float
    loss: float
    videos: int
    confusion: torch.Tensor  # (classes, classes) counts: row true, column predicted

    @property
    def per_class(self) -> list[float | None]:
        """Accuracy of each class (None where the split has no video of it)."""
        totals = self.confusion.sum(1)
        return [None if t == 0 else (self.confusion[i, i] / t).item() for i, t in enumerate(totals)]

    def to_dict(self) -> dict:
        return {"top1": self.top1, "top5": self.top5, "loss": self.loss, "videos": self.videos}


def _view_average(model, clips: torch.Tensor, runtime: Runtime) -> torch.Tensor:
    """Class probabilities (N, classes) of a batch (N, C, T, H, W) or (N, V, C, T, H, W):
    the softmax of each view, averaged over a video's views."""
    n, views = clips.shape[0], 1 if clips.ndim == 5 else clips.shape[1]
    with runtime.autocast():
        logits = model(runtime.to_device(clips.reshape(-1, *clips.shape[-4:])))
    return F.softmax(logits.float(), dim=1).reshape(n, views, -1).mean(1).cpu()


@torch.no_grad()
def predict(model, dataset, runtime: Runtime, batch_size: int = 4) -> torch.Tensor:
    """Class probabilities (len(dataset), classes) of every item, views averaged as in evaluate()."""
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size)
    return torch.cat([_view_average(model, clips, runtime) for clips, _ in loader])


@torch.no_grad()
def evaluate(model, dataset, classes: int, runtime: Runtime, batch_size: int = 8, workers: int = 0,
             indices=None, progress: bool = False) -> EvalResult:
    """Accuracy of `model` on `dataset` (items (C,T,H,W) or (V,C,T,H,W) views, label).

    Views of one video are scored separately and their softmax averaged. In a
    distributed run each process scores its share (`indices`) and the counts are summed.
    """
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, sampler=indices, num_workers=workers)
    if progress:
        import sys

        from tqdm import tqdm

        loader = tqdm(loader, desc="eval", unit="batch", file=sys.stderr, dynamic_ncols=True)
    confusion = torch.zeros(classes, classes, dtype=torch.long)
    top5_hits = torch.zeros((), dtype=torch.long)
    loss_sum = torch.zeros((), dtype=torch.float64)
    for clips, labels in loader:
        probs = _view_average(model, clips, runtime)
        loss_sum += F.nll_loss(probs.clamp_min(1e-12).log(), labels, reduction="sum").double()
        predicted = probs.argmax(1)
        confusion += torch.bincount(labels * classes + predicted, minlength=classes * classes).reshape(classes, classes)
        k = min(5, classes)
        top5_hits += (probs.topk(k, dim=1).indices == labels[:, None]).any(1).sum()
    counts = runtime.all_reduce_sum(torch.cat([confusion.flatten(), top5_hits[None]]))
    loss_total = runtime.all_reduce_sum(loss_sum[None])[0].item()
    confusion = counts[:-1].reshape(classes, classes)
    videos = int(confusion.sum())
    if videos == 0:
        return EvalResult(0.0, 0.0, float("nan"), 0, confusion)
    return EvalResult(
        top1=confusion.diag().sum().item() / videos,
        top5=counts[-1].item() / videos,
        loss=loss_total / videos,
        videos=videos,
        confusion=confusion,
    )
