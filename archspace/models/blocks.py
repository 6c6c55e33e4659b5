"""Torch modules for the composite plan records (see archspace.plan)."""

from __future__ import annotations

import torch
from torch import nn


class SqueezeExcite(nn.Module):
    """Global mean -> 1x1x1 conv -> ReLU -> 1x1x1 conv -> sigmoid -> scale channels."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Conv3d(channels, hidden, 1, bias=True)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv3d(hidden, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3, 4), keepdim=True)
        return x * torch.sigmoid(self.fc2(self.relu(self.fc1(s))))


class Residual(nn.Module):
    """ReLU(branch(x) + shortcut(x)); no `shortcut` child means the identity."""

    def __init__(self, branch: nn.Module, shortcut: nn.Module | None):
        super().__init__()
        self.branch = branch
        if shortcut is not None:
            self.shortcut = shortcut
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.shortcut(x) if hasattr(self, "shortcut") else x
        return self.relu(self.branch(x) + skip)


class Aggregate(nn.Module):
    """T-OSA one-shot aggregation: modules in series, concat all outputs once, project."""

    def __init__(self, modules: list[nn.Module], keep_input: bool, project: nn.Module):
        super().__init__()
        self.keep_input = keep_input
        self.layers = nn.ModuleList(modules)
        self.project = project

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [x] if self.keep_input else []
        for module in self.layers:
            x = module(x)
            outputs.append(x)
        return self.project(torch.cat(outputs, dim=1))


class Classifier(nn.Module):
    """Dropout and Linear at every pooled position, logits averaged over positions."""

    def __init__(self, cin: int, classes: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(cin, classes, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 4, 1)  # (N, T, H, W, C): Linear acts on channels
        x = self.fc(self.dropout(x))
        return x.mean((1, 2, 3))
