import torch
from torch import nn

from archspace import build_model, preset
from archspace.models.blocks import Aggregate, Residual


def _tiny(name, **changes):
    base = dict(frames=4, crop=64, train_crop=64, classes=7)
    base.update(changes)
    return preset(name).replace(**base)


def test_forward_gives_logits_for_each_family_and_block():
    for name in ("vov3d_m_paper", "x3d_xs"):
        for block in ("bottleneck", "r2plus1d", "dw", "d1p2d", "d2p1d"):
            model = build_model(_tiny(name, block=block, depths=(1, 1, 1, 1))).eval()
            with torch.no_grad():
                out = model(torch.randn(2, 3, 4, 64, 64))
            assert out.shape == (2, 7)
            assert torch.isfinite(out).all()


def test_structure_matches_the_reference():
    model = build_model(preset("vov3d_m"))
    tosas = [m for m in model.modules() if isinstance(m, Aggregate)]
    assert len(tosas) == 1 + 2 + 3 + 2
    assert all(len(t.layers) == 5 for t in tosas)
    # Only the first T-OSA of a stage strides, and only it drops the input from the concat.
    assert [t.keep_input for t in tosas] == [False, False, True, False, True, True, False, True]
    # D(2+1)D: depthwise 1x3x3 with the stride, then depthwise 3x1x1, nothing between.
    first = tosas[0].layers[0]
    names = [n for n, _ in first.named_children()]
    assert names == ["a", "a_bn", "a_relu", "b1", "b2", "b_bn", "se", "b_swish", "c", "c_bn", "relu"]
    assert (first.b1.kernel_size, first.b1.stride, first.b1.groups) == ((1, 3, 3), (1, 2, 2), 40)
    assert (first.b2.kernel_size, first.b2.stride, first.b2.groups) == ((3, 1, 1), (1, 1, 1), 40)
    # SE on modules 0, 2, 4 of each T-OSA.
    # Module 0 changes width (no residual); modules 1-4 keep Ci/2 and have one.
    assert [isinstance(m, Residual) for m in tosas[0].layers] == [False, True, True, True, True]
    branches = [m.branch if isinstance(m, Residual) else m for m in tosas[0].layers]
    assert [hasattr(b, "se") for b in branches] == [True, False, True, False, True]
    assert tosas[0].layers[0].se.fc1.out_channels == 8  # round_width(40 / 16)


def test_initialisation_zeroes_only_final_bns():
    model = build_model(preset("x3d_xs"))
    blocks = [m for m in model.modules() if isinstance(m, Residual)]
    assert len(blocks) == 3 + 5 + 11 + 7
    for block in blocks:
        assert torch.all(block.branch.c_bn.weight == 0)
        assert torch.all(block.branch.a_bn.weight == 1)
    assert torch.all(model.stem.bn.weight == 1)
    fc = model.head.classifier.fc
    assert abs(fc.weight.std().item() - 0.01) < 0.002 and torch.all(fc.bias == 0)
    untouched = build_model(preset("x3d_xs"), zero_init_final_bn=False)
    assert all(torch.all(m.weight == 1) for m in untouched.modules() if isinstance(m, nn.BatchNorm3d))


def test_training_step_reduces_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    model = build_model(_tiny("vov3d_m_paper", depths=(1, 1, 1, 1), dropout=0.0, modules=2))
    clips, labels = torch.randn(4, 3, 4, 64, 64), torch.tensor([0, 1, 2, 3])
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(15):
        loss = nn.functional.cross_entropy(model(clips), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_fixed_pool_head_averages_positions_and_equals_global_pool_at_train_crop():
    g = _tiny("x3d_xs", depths=(1, 1, 1, 1))
    torch.manual_seed(0)
    global_head = build_model(g).eval()
    fixed_head = build_model(g, head_pool="fixed").eval()
    fixed_head.load_state_dict(global_head.state_dict())
    clip = torch.randn(1, 3, 4, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(global_head(clip), fixed_head(clip))
        bigger = fixed_head(torch.randn(1, 3, 4, 96, 96))  # 3x3 map, 2x2 kernel: 4 positions
    assert bigger.shape == (1, 7)


def test_cpu_channels_last_gives_the_same_logits_and_gradients():
    # VideoNet runs in channels_last_3d on the CPU (faster); the default layout is the reference.
    for block in ("dw", "d2p1d", "r2plus1d"):
        for name in ("x3d_s", "vov3d_m"):
            torch.manual_seed(0)
            model = build_model(_tiny(name, block=block)).train()
            assert model.cpu_channels_last
            x = torch.randn(2, 3, 4, 32, 32)
            results = []
            for channels_last in (True, False):
                model.cpu_channels_last = channels_last
                model.zero_grad()
                torch.manual_seed(1)  # the same dropout mask
                out = model(x)
                out.square().sum().backward()
                grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
                results.append((out.detach(), grads))
            for fast, plain in zip(*results):
                torch.testing.assert_close(fast, plain, rtol=0, atol=1e-5 * plain.abs().max().item())
    assert not build_model(_tiny("x3d_s", block="bottleneck")).cpu_channels_last


def test_vov3d_zeroes_only_each_t_osas_aggregation_bn():
    # The released VoV3D code: the T-OSA's projection BN starts at 0; its modules' last BNs
    # (and the shortcut's) start at 1, unlike X3D's blocks.
    model = build_model(_tiny("vov3d_m_paper", depths=(1, 2, 1, 1), modules=3))
    tosas = [m for m in model.modules() if isinstance(m, Aggregate)]
    assert len(tosas) == 5
    for tosa in tosas:
        assert torch.all(tosa.project.bn.weight == 0)
        branches = [m.branch if isinstance(m, Residual) else m for m in tosa.layers]
        assert all(torch.all(b.c_bn.weight == 1) and torch.all(b.a_bn.weight == 1) for b in branches)
    shortcuts = [m.shortcut for m in model.modules() if isinstance(m, Residual) and hasattr(m, "shortcut")]
    assert len(shortcuts) == 4 and all(torch.all(s.bn.weight == 1) for s in shortcuts)
