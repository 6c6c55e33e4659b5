"""Faster CPU training for depthwise 3D convolutions, with the same results.

PyTorch's CPU backward of a depthwise Conv3d computes the input gradient through a slow
generic path, while its forward runs on oneDNN. For stride 1 and 'same' padding the
input gradient of a depthwise conv is itself a depthwise conv with the kernel flipped,
so it can run on the fast forward path; the weight gradient stays with PyTorch. The
forward is untouched, and only training on the CPU takes this path (inference, CUDA
and fvcore's tracing see a plain Conv3d).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _DepthwiseConv3dFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, stride, padding):
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding = stride, padding
        return F.conv3d(x, weight, None, stride, padding, 1, weight.shape[0])

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        channels = weight.shape[0]
        grad_input = grad_weight = None
        same = all(p == k // 2 for p, k in zip(ctx.padding, weight.shape[2:]))
        if ctx.needs_input_grad[0] and ctx.stride == (1, 1, 1) and same:
            grad_input = F.conv3d(grad, weight.flip(2, 3, 4), None, 1, ctx.padding, 1, channels)
        mask = (ctx.needs_input_grad[0] and grad_input is None, ctx.needs_input_grad[1], False)
        if any(mask):
            gi, gw, _ = torch.ops.aten.convolution_backward(
                grad, x, weight, None, ctx.stride, ctx.padding, (1, 1, 1), False, (0, 0, 0), channels, mask
            )
            grad_input = gi if mask[0] else grad_input
            grad_weight = gw if mask[1] else None
        return grad_input, grad_weight, None, None


class DepthwiseConv3d(nn.Conv3d):
    """nn.Conv3d with groups == channels (same parameters and state dict)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.device.type == "cpu" and torch.is_grad_enabled() and not torch.jit.is_tracing():
            return _DepthwiseConv3dFunction.apply(x, self.weight, self.stride, self.padding)
        return super().forward(x)
