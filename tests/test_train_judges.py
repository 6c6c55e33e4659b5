"""Libraries as judges of the training engine's numbers: torchmetrics for the accuracies
of evaluate(), torch's own schedulers for the learning rate of every iteration."""

import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from archspace.train.device import init_runtime
from archspace.train.evaluate import evaluate, predict
from archspace.train.recipe import load_recipe, lr_at
from lr_judge import torch_lrs


class _Lookup(nn.Module):
    """A 'network' whose logits for item i are row i of a fixed table (the clip holds i)."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.register_buffer("logits", logits)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.logits[clips.flatten(1)[:, 0].long()]


def _tied_logits(n: int = 60, classes: int = 9, seed: int = 0):
    """Small-integer logits (many ties) and labels; class 8 never occurs."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randint(0, 4, (n, classes), generator=g).float()
    labels = torch.randint(0, classes - 1, (n,), generator=g)
    return logits, labels


def test_evaluate_agrees_with_torchmetrics_on_tied_logits():
    logits, labels = _tied_logits()
    classes = logits.shape[1]
    # The ties are real: for many items the label shares the top score with another
    # class, or the 5th-highest score with a class outside the top 5.
    top = logits.max(1).values
    tied_first = ((logits[torch.arange(len(labels)), labels] == top) & ((logits == top[:, None]).sum(1) > 1)).sum()
    fifth = logits.sort(1, descending=True).values[:, 4]
    tied_fifth = ((logits[torch.arange(len(labels)), labels] == fifth) & ((logits == fifth[:, None]).sum(1) > 1)).sum()
    assert tied_first >= 5 and tied_fifth >= 5

    dataset = [(torch.full((3, 1, 1, 1), float(i)), int(y)) for i, y in enumerate(labels)]  # RGB clips of 1 pixel
    result = evaluate(_Lookup(logits), dataset, classes, init_runtime(), batch_size=7)  # 7 does not divide 60

    top1 = MulticlassAccuracy(classes, top_k=1, average="micro")(logits, labels).item()
    top5 = MulticlassAccuracy(classes, top_k=5, average="micro")(logits, labels).item()
    assert 0 < top1 < top5 < 1
    assert result.top1 == pytest.approx(top1, abs=1e-6) and result.top5 == pytest.approx(top5, abs=1e-6)
    assert result.videos == 60
    assert torch.equal(result.confusion, MulticlassConfusionMatrix(classes)(logits, labels))
    assert result.confusion.dtype == torch.long  # counts
    per_class = MulticlassAccuracy(classes, average=None)(logits, labels)
    assert result.per_class[:-1] == pytest.approx(per_class[:-1].tolist(), abs=1e-6)
    assert result.per_class[-1] is None  # class 8 has no video: no accuracy, not 0
    assert result.loss == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-5)


def test_evaluate_top5_with_fewer_than_five_classes_counts_every_video():
    logits, labels = _tied_logits(n=20, classes=3)
    dataset = [(torch.full((1, 1, 1, 1), float(i)), int(y)) for i, y in enumerate(labels)]
    result = evaluate(_Lookup(logits), dataset, 3, init_runtime())
    assert result.top5 == 1.0
    assert result.top1 == pytest.approx(MulticlassAccuracy(3, top_k=1, average="micro")(logits, labels).item())


def _two_view_data(n: int = 30, classes: int = 7, seed: int = 1):
    """Items of two views: view v of item i reads logits row 2i + v."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2 * n, classes, generator=g) * 3
    labels = torch.randint(0, classes, (n,), generator=g)
    dataset = [(torch.stack([torch.full((3, 1, 1, 1), 2.0 * i), torch.full((3, 1, 1, 1), 2.0 * i + 1)]), int(y))
               for i, y in enumerate(labels)]
    # The judge's view average: the softmax of each view, then the mean of the two.
    probs = logits.softmax(1).reshape(n, 2, classes).mean(1)
    return logits, labels, dataset, probs


def test_views_are_averaged_as_probabilities():
    logits, labels, dataset, probs = _two_view_data()
    result = evaluate(_Lookup(logits), dataset, 7, init_runtime(), batch_size=4)
    top1 = MulticlassAccuracy(7, top_k=1, average="micro")(probs, labels).item()
    top5 = MulticlassAccuracy(7, top_k=5, average="micro")(probs, labels).item()
    assert 0 < top1 < top5 < 1
    assert (result.top1, result.top5, result.videos) == (pytest.approx(top1), pytest.approx(top5), 30)
    assert torch.equal(result.confusion, MulticlassConfusionMatrix(7)(probs, labels))
    assert result.loss == pytest.approx(F.nll_loss(probs.log(), labels).item(), rel=1e-5)
    # Averaging logits instead would differ: the two views disagree.
    assert not torch.equal(probs.argmax(1), logits.reshape(30, 2, 7).mean(1).argmax(1))
    assert torch.allclose(predict(_Lookup(logits), dataset, init_runtime(), batch_size=7), probs, atol=1e-6)


def test_predict_gives_each_items_class_probabilities():
    logits, labels = _tied_logits(n=11, classes=4)
    dataset = [(torch.full((1, 1, 1, 1), float(i)), int(y)) for i, y in enumerate(labels)]
    probs = predict(_Lookup(logits), dataset, init_runtime())  # batches of 4: 4 + 4 + 3
    assert probs.shape == (11, 4) and torch.allclose(probs, logits.softmax(1), atol=1e-6)


def test_evaluate_scores_only_its_share_and_an_empty_share():
    logits, labels, dataset, probs = _two_view_data()
    share = list(range(0, 30, 3))
    result = evaluate(_Lookup(logits), dataset, 7, init_runtime(), batch_size=4, indices=share)
    assert result.videos == 10
    assert torch.equal(result.confusion, MulticlassConfusionMatrix(7)(probs[share], labels[share]))
    assert result.to_dict() == {"top1": result.top1, "top5": result.top5, "loss": result.loss, "videos": 10}
    empty = evaluate(_Lookup(logits), dataset, 7, init_runtime(), indices=[])
    assert (empty.top1, empty.top5, empty.videos) == (0.0, 0.0, 0) and empty.loss != empty.loss  # nan
    assert torch.equal(empty.confusion, torch.zeros(7, 7, dtype=torch.long))


def test_a_label_of_probability_zero_costs_log_1e12_not_infinity(capsys):
    # exp(-200) underflows to 0 in float32: the loss takes the clamped log(1e-12).
    logits = torch.tensor([[200.0, 0.0], [0.0, 0.0]])
    dataset = [(torch.full((1, 1, 1, 1), 0.0), 1), (torch.full((1, 1, 1, 1), 1.0), 1)]
    assert evaluate(_Lookup(logits), dataset, 2, init_runtime()).videos == 2
    assert capsys.readouterr().err == ""  # no progress bar unless asked
    result = evaluate(_Lookup(logits), dataset, 2, init_runtime(), progress=True)
    assert result.loss == pytest.approx((-torch.tensor(1e-12).double().log().item() + 0.6931471805599453) / 2)
    bar = capsys.readouterr().err  # tqdm's: "eval: 100%|...| 1/1 [00:00<00:00, 9.87batch/s]"
    assert re.search(r"(^|\r)eval: 100%.* 1/1 .*batch/s", bar), bar


# ----------------------------------------------------------------------------- learning rate


def _ours(recipe, steps: int, peak: float) -> list[float]:
    """lr_at at every iteration, indexed as the training loop indexes it."""
    return [lr_at(recipe, e + i / steps, e * steps + i, peak) for e in range(recipe.epochs) for i in range(steps)]


def test_cosine_schedule_is_torchs_cosine_annealing_over_the_whole_run():
    recipe = load_recipe("ssv2_scratch").replace(epochs=5, warmup_epochs=0)
    steps, peak = 7, 0.4
    theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=5 * steps), 5 * steps, peak)
    assert _ours(recipe, steps, peak) == pytest.approx(theirs, rel=1e-9, abs=1e-12)


def test_iteration_warmup_then_steps_is_linear_lr_then_multistep():
    # The fine-tuning recipe: warm-up over iterations from warmup_start_lr, x0.1 at epochs 3 and 5.
    recipe = load_recipe("ssv2_finetune_from_kinetics").replace(epochs=6, steps=[3, 5], warmup_iters=10,
                                                                warmup_start_lr=0.002)
    steps, peak = 7, 0.05
    warm = 10

    def make(o):
        sched = torch.optim.lr_scheduler
        return sched.SequentialLR(o, [sched.LinearLR(o, start_factor=0.002 / peak, end_factor=1.0, total_iters=warm),
                                      sched.MultiStepLR(o, milestones=[3 * steps - warm, 5 * steps - warm], gamma=0.1)],
                                  milestones=[warm])

    theirs = torch_lrs(make, 6 * steps, peak)
    assert _ours(recipe, steps, peak) == pytest.approx(theirs, rel=1e-9, abs=1e-12)
    assert theirs[0] == pytest.approx(0.002) and theirs[-1] == pytest.approx(peak * 0.01)


def test_epoch_warmup_rises_linearly_into_the_cosine():
    # Warm-up over epochs, then the cosine of the whole run (as PySlowFast: the warm-up
    # replaces the cosine's start; it does not shift it, as SequentialLR would).
    recipe = load_recipe("ssv2_scratch").replace(epochs=4, warmup_epochs=1, warmup_start_lr=0.01)
    steps, peak = 8, 0.2
    cosine = torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4 * steps), 4 * steps, peak)
    ours = _ours(recipe, steps, peak)
    assert ours[steps:] == pytest.approx(cosine[steps:], rel=1e-9)
    assert ours[0] == pytest.approx(0.01)
    rising = ours[: steps + 1]
    assert all(a < b for a, b in zip(rising, rising[1:]))
    # Linear in the iteration towards the cosine: start + i/steps * (cosine - start).
    assert ours[:steps] == pytest.approx([0.01 + i / steps * (cosine[i] - 0.01) for i in range(steps)], rel=1e-9)
