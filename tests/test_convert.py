import re

import pytest
import torch

from archspace import build_model, preset
from archspace.models.convert import convert_state
from pytorchvideo_ref import create_x3d


def _randomise_bn(model):
    # Fresh BNs are identities; random statistics make the comparison mean something.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)


def test_pytorchvideo_x3d_m_converts_to_the_same_logits():
    torch.manual_seed(0)
    theirs = create_x3d(input_clip_length=4, input_crop_size=96, depth_factor=2.2, model_num_class=10,
                        head_activation=None)
    _randomise_bn(theirs)
    theirs.eval()
    ours = build_model(preset("x3d_m").replace(frames=4, crop=96, train_crop=96, classes=10))
    state, report = convert_state(theirs.state_dict(), "pytorchvideo", ours)
    assert report.complete
    assert report.filled_identity == ["stage2.block0.shortcut.bn"]  # pytorchvideo's missing BN
    ours.load_state_dict(state)
    ours.eval()
    clip = torch.randn(2, 3, 4, 96, 96)
    with torch.no_grad():
        diff = (ours(clip) - theirs(clip)).abs().max().item()
    assert diff < 1e-5
    assert sum(p.numel() for p in theirs.parameters()) == sum(p.numel() for p in ours.parameters()) - 48


def _slowfast_names(genome) -> list[str]:
    """Parameter names of PySlowFast's X3D / the VoV3D code for `genome`, from their naming scheme."""
    bn = ("weight", "bias", "running_mean", "running_var")
    names = ["s1.pathway0_stem.conv_xy.weight", "s1.pathway0_stem.conv.weight"]
    names += [f"s1.pathway0_stem.bn.{b}" for b in bn]
    cin = genome.stem_width
    for s, (depth, inner, out) in enumerate(zip(genome.depths, genome.inner_widths, genome.out_widths), start=2):
        for j in range(depth):
            p = f"s{s}.pathway0_res{j}."
            if j == 0:
                names += [p + "branch1.weight"] + [p + f"branch1_bn.{b}" for b in bn]
            if genome.family == "x3d":
                names += [p + "branch2.a.weight", p + "branch2.b.weight", p + "branch2.c.weight"]
                names += [p + f"branch2.{n}.{b}" for n in ("a_bn", "b_bn", "c_bn") for b in bn]
                if j % 2 == 0:
                    names += [p + f"branch2.se.{fc}.{w}" for fc in ("fc1", "fc2") for w in ("weight", "bias")]
            else:
                for m in range(genome.modules):
                    q = p + f"branch2.layers.{m}."
                    names += [q + "a.0.weight", q + "b1.weight", q + "b2.weight", q + "c.0.weight"]
                    names += [q + f"{n}.{b}" for n in ("a.1", "b_bn", "c.1") for b in bn]
                    if m % 2 == 0:
                        names += [q + f"se.{fc}.{w}" for fc in ("fc1", "fc2") for w in ("weight", "bias")]
                names += [p + "branch2.c.weight"] + [p + f"branch2.c_bn.{b}" for b in bn]
        cin = out
    names += ["head.conv_5.weight", "head.lin_5.weight", "head.projection.weight", "head.projection.bias"]
    names += [f"head.conv_5_bn.{b}" for b in bn]
    return names


@pytest.mark.parametrize("name", ["x3d_s", "vov3d_m", "vov3d_l"])
def test_slowfast_names_map_onto_every_parameter(name):
    genome = preset(name).replace(classes=174)
    ours = build_model(genome)
    own = ours.state_dict()
    # Give every foreign tensor a distinct value, shaped as the archspace tensor it should land on.
    names = _slowfast_names(genome)
    order = sorted(k for k in own if not k.endswith("num_batches_tracked"))
    assert len(names) == len(order)
    from archspace.models.convert import rename

    target = {re.sub(r"(\.layers\.\d+)\.branch\.", r"\1.", k): k for k in own}
    foreign = {}
    for i, n in enumerate(names):
        guess = rename({n: torch.zeros(())}, "slowfast", genome.family)
        key = target.get(next(iter(guess)), next(iter(guess)))
        foreign[n] = torch.full(own[key].shape if key in own else (1,), float(i))
    state, report = convert_state(foreign, "slowfast", ours)
    assert report.complete, report.lines()
    ours.load_state_dict(state)
    loaded = ours.state_dict()
    # Spot checks against the naming scheme, value by value.
    assert torch.all(loaded["stem.conv_t.weight"] == names.index("s1.pathway0_stem.conv.weight"))
    assert torch.all(loaded["head.classifier.fc.bias"] == names.index("head.projection.bias"))
    if genome.family == "vov3d":
        assert torch.all(loaded["stage3.block1.branch.layers.2.branch.a_bn.running_var"]
                         == names.index("s3.pathway0_res1.branch2.layers.2.a.1.running_var"))
        assert torch.all(loaded["stage2.block0.branch.project.conv.weight"] == names.index("s2.pathway0_res0.branch2.c.weight"))
    else:
        assert torch.all(loaded["stage4.block3.branch.c.weight"] == names.index("s4.pathway0_res3.branch2.c.weight"))
