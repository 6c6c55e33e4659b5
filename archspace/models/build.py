"""Plan -> nn.Module, record by record, and the reference initialisation."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from archspace import plan as P
from archspace.genome import Genome
from archspace.models import blocks
from archspace.models.fast import DepthwiseConv3d


class VideoNet(nn.Module):
    """A network built from a genome: (N, 3, T, H, W) clips in, (N, classes) logits out.

    On the CPU, when `cpu_channels_last` is set, the clips are put in channels_last_3d
    first and every layer runs in that layout, where oneDNN's depthwise and (2+1)D convs
    are much faster and BN costs only a little more: X3D-M and VoV3D-M train 1.3x and
    infer 1.7x faster than in the default layout (benchmarks/train_speed.py). The plain
    bottleneck's full 3x3x3 convs train ~7% slower there, so it keeps the default layout.
    The logits are the same up to float rounding. Assign the attribute to override.
    """

    def __init__(self, genome: Genome, stages: "OrderedDict[str, nn.Module]"):
        super().__init__()
        self.genome = genome
        self.cpu_channels_last = genome.block != "bottleneck"
        for name, stage in stages.items():
            self.add_module(name, stage)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.cpu_channels_last and x.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last_3d)
        for stage in self.children():
            x = stage(x)
        return x


def build_model(genome: Genome, head_pool: str = "global", zero_init_final_bn: bool = True) -> VideoNet:
    """Build the network that `genome` describes, initialised as the reference does.

    head_pool "fixed" gives PySlowFast's test-time head (see plan.plan_network).
    zero_init_final_bn starts the last BN of every residual branch at weight 0.
    """
    net = P.plan_network(genome, head_pool=head_pool)
    model = VideoNet(genome, OrderedDict((name, to_module(node)) for name, node in net.children))
    init_weights(model, zero_init_final_bn)
    return model


def to_module(node: P.Node) -> nn.Module:
    """The torch module of one plan record (composites recursively)."""
    kind = type(node)
    if kind is P.Conv:
        depthwise = node.groups > 1 and node.groups == node.cin == node.cout
        conv = DepthwiseConv3d if depthwise else nn.Conv3d
        return conv(node.cin, node.cout, node.kernel, node.stride, node.padding, groups=node.groups, bias=node.bias)
    if kind is P.BN:
        bn = nn.BatchNorm3d(node.channels, eps=1e-5, momentum=0.1)
        bn.final_bn = node.final  # read by init_weights
        return bn
    if kind is P.Act:
        return nn.ReLU(inplace=True) if node.kind == "relu" else nn.SiLU()
    if kind is P.SE:
        return blocks.SqueezeExcite(node.channels, node.hidden)
    if kind is P.Pool:
        return nn.AdaptiveAvgPool3d(1) if node.kernel is None else nn.AvgPool3d(node.kernel, stride=1)
    if kind is P.Classifier:
        return blocks.Classifier(node.cin, node.classes, node.dropout)
    if kind is P.Seq:
        return nn.Sequential(OrderedDict((name, to_module(child)) for name, child in node.children))
    if kind is P.Residual:
        shortcut = None if node.shortcut is None else to_module(node.shortcut)
        return blocks.Residual(to_module(node.branch), shortcut)
    if kind is P.Aggregate:
        return blocks.Aggregate([to_module(m) for m in node.modules], node.keep_input, to_module(node.project))
    raise TypeError(f"no module for plan record {kind.__name__}")


def init_weights(model: nn.Module, zero_init_final_bn: bool = True) -> None:
    """Kaiming-normal (fan_out) convs, BN 1/0 (final BN weight 0), Linear N(0, 0.01)."""
    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm3d):
            final = getattr(m, "final_bn", False) and zero_init_final_bn
            nn.init.constant_(m.weight, 0.0 if final else 1.0)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.01)
            nn.init.zeros_(m.bias)
