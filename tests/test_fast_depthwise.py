import pytest
import torch
from torch import nn

from archspace.models.fast import DepthwiseConv3d


@pytest.mark.parametrize(
    "kernel,stride,padding",
    [((3, 3, 3), (1, 1, 1), (1, 1, 1)), ((1, 3, 3), (1, 2, 2), (0, 1, 1)), ((5, 1, 1), (1, 1, 1), (2, 0, 0))],
)
@pytest.mark.parametrize("channels_last", [False, True])
def test_gradients_equal_plain_conv3d(kernel, stride, padding, channels_last):
    torch.manual_seed(0)
    plain = nn.Conv3d(12, 12, kernel, stride, padding, groups=12, bias=False)
    fast = DepthwiseConv3d(12, 12, kernel, stride, padding, groups=12, bias=False)
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(2, 12, 6, 9, 9)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    grads = []
    for conv in (plain, fast):
        xi = x.clone().requires_grad_()
        out = conv(xi)
        out.backward(torch.linspace(-1, 1, out.numel()).reshape(out.shape))
        grads.append((out.detach(), xi.grad, conv.weight.grad))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_eval_and_tracing_use_the_plain_path():
    conv = DepthwiseConv3d(4, 4, 3, padding=1, groups=4, bias=False).eval()
    graph = torch.jit.trace(conv, torch.randn(1, 4, 3, 5, 5)).graph
    assert "PythonOp" not in str(graph)
