"""Faster CPU training for depthwise 3D convolutions, with the same results.

Two things make PyTorch's CPU depthwise Conv3d slow to train, measured on X3D-M
(benchmarks/train_speed.py): its backward computes the input gradient through a slow
generic path while the forward runs on oneDNN, and in the default (N, C, T, H, W)
layout both directions are several times slower than in channels_last_3d. So, in
training on the CPU only:
- the conv runs in channels_last_3d (VideoNet already runs in that layout on the CPU;
  an input in the default layout is converted here and the output converted back);
- for stride 1 and 'same' padding, the input gradient, which is itself a depthwise conv
  with the kernel flipped, runs on the fast forward path;
- the weight gradient (temporal stride 1) is computed as one 2D depthwise-conv weight
  gradient per temporal tap over all (frame, clip) pairs, which oneDNN does faster.
The forward values are the same; inference, CUDA and fvcore's tracing see a plain Conv3d.
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
        # Under bf16 autocast the forward conv ran in bf16 while x and the weight were saved
        # as given (float32 weight); the backward runs outside autocast, so cast them here.
        # Autograd casts the gradients back to each input's dtype.
        x, weight = x.to(grad.dtype), weight.to(grad.dtype)
        channels = weight.shape[0]
        grad_input = grad_weight = None
        same = all(p == k // 2 for p, k in zip(ctx.padding, weight.shape[2:]))
        if ctx.needs_input_grad[0] and ctx.stride == (1, 1, 1) and same:
            grad_input = F.conv3d(grad, weight.flip(2, 3, 4), None, 1, ctx.padding, 1, channels)
        if ctx.needs_input_grad[1] and ctx.stride[0] == 1:
            grad_weight = _weight_grad_by_frames(grad, x, weight, ctx.stride, ctx.padding)
        mask = (ctx.needs_input_grad[0] and grad_input is None, ctx.needs_input_grad[1] and grad_weight is None, False)
        if any(mask):
            gi, gw, _ = torch.ops.aten.convolution_backward(
                grad, x, weight, None, ctx.stride, ctx.padding, (1, 1, 1), False, (0, 0, 0), channels, mask
            )
            grad_input = gi if mask[0] else grad_input
            grad_weight = gw if mask[1] else grad_weight
        return grad_input, grad_weight, None, None


def _weight_grad_by_frames(grad, x, weight, stride, padding):
    """The weight gradient of a depthwise 3D conv (temporal stride 1) as kt gradients of
    2D depthwise convs over all (frame, clip) pairs, which oneDNN computes several times
    faster than the 3D one (2-6x per layer on X3D-M)."""
    n, c, _, h, w = x.shape
    kt = weight.shape[2]
    to, ho, wo = grad.shape[2:]
    # Frames first, channels last: each temporal tap is then one contiguous (to * n) batch.
    frames = F.pad(x.permute(2, 0, 3, 4, 1), (0, 0, 0, 0, 0, 0, 0, 0, padding[0], padding[0])).contiguous()
    grad2d = grad.permute(2, 0, 3, 4, 1).contiguous().reshape(to * n, ho, wo, c).permute(0, 3, 1, 2)
    weight2d = weight[:, :, 0]
    taps = []
    for k in range(kt):
        x2d = frames[k : k + to].reshape(to * n, h, w, c).permute(0, 3, 1, 2)
        taps.append(
            torch.ops.aten.convolution_backward(
                grad2d, x2d, weight2d, None, stride[1:], padding[1:], (1, 1), False, (0, 0), c, (False, True, False)
            )[1]
        )
    return torch.stack(taps, 2)


class DepthwiseConv3d(nn.Conv3d):
    """nn.Conv3d with groups == channels (same parameters and state dict)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.device.type == "cpu" and torch.is_grad_enabled() and not torch.jit.is_tracing():
            channels_last = x.is_contiguous(memory_format=torch.channels_last_3d)
            y = _DepthwiseConv3dFunction.apply(
                x.contiguous(memory_format=torch.channels_last_3d),
                self.weight.contiguous(memory_format=torch.channels_last_3d),
                self.stride,
                self.padding,
            )
            return y if channels_last else y.contiguous()
        return super().forward(x)
