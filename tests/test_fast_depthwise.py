import pytest
import torch
from torch import nn

from archspace.models.fast import DepthwiseConv3d


@pytest.mark.parametrize(
    "kernel,stride,padding",
    [
        ((3, 3, 3), (1, 1, 1), (1, 1, 1)),
        ((3, 3, 3), (1, 2, 2), (1, 1, 1)),  # X3D's first block of a stage
        ((1, 3, 3), (1, 2, 2), (0, 1, 1)),
        ((5, 1, 1), (1, 1, 1), (2, 0, 0)),
        ((3, 3, 3), (2, 3, 2), (0, 2, 1)),  # temporal stride, no padding, wide padding
        ((3, 5, 3), (1, 1, 1), (0, 1, 2)),  # stride 1 but not 'same'
    ],
)
@pytest.mark.parametrize("size", [(6, 9, 9), (7, 8, 10)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_gradients_equal_plain_conv3d(kernel, stride, padding, size, channels_last):
    torch.manual_seed(0)
    plain = nn.Conv3d(12, 12, kernel, stride, padding, groups=12, bias=False)
    fast = DepthwiseConv3d(12, 12, kernel, stride, padding, groups=12, bias=False)
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(2, 12, *size)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    grads = []
    for conv in (plain, fast):
        xi = x.clone().requires_grad_()
        out = conv(xi)
        out.backward(torch.linspace(-1, 1, out.numel()).reshape(out.shape))
        grads.append((out.detach(), xi.grad, conv.weight.grad))
    for a, b in zip(*grads):
        # float32 sums over up to ~1,000 terms in another order: rounding relative to the scale
        torch.testing.assert_close(b, a, rtol=0, atol=2e-6 * a.abs().max().item())


def test_eval_and_tracing_use_the_plain_path():
    conv = DepthwiseConv3d(4, 4, 3, padding=1, groups=4, bias=False).eval()
    graph = torch.jit.trace(conv, torch.randn(1, 4, 3, 5, 5)).graph
    assert "PythonOp" not in str(graph)


@pytest.mark.parametrize("x_dtype", [torch.float32, torch.bfloat16])  # a first layer's clips, a later layer's bf16 input
def test_bf16_autocast_gradients_equal_plain_conv3d(x_dtype):
    # `train --amp` on the CPU: the conv runs in bf16 under autocast, its backward outside
    # it, against a float32 weight; the gradients come back in the inputs' dtypes.
    torch.manual_seed(0)
    plain = nn.Conv3d(8, 8, 3, 1, 1, groups=8, bias=False)
    fast = DepthwiseConv3d(8, 8, 3, 1, 1, groups=8, bias=False)
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(2, 8, 4, 6, 6).to(x_dtype)
    grads = []
    for conv in (plain, fast):
        xi = x.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = conv(xi)
        out.float().square().sum().backward()
        grads.append((out.detach(), xi.grad, conv.weight.grad))
    for a, b in zip(*grads):
        assert b.dtype == a.dtype
        # bf16 keeps 8 bits of mantissa; the two paths sum in different orders
        torch.testing.assert_close(b.float(), a.float(), rtol=0, atol=2e-2 * a.abs().max().item())
