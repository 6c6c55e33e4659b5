import pytest
import torch

from archspace import build_model, preset
from archspace.models.convert import convert_state
from pytorchvideo_ref import create_x3d
from slowfast_ref import slowfast_names, slowfast_state


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


@pytest.mark.parametrize("name", ["x3d_s", "vov3d_m", "vov3d_l"])
def test_slowfast_names_map_onto_every_parameter(name):
    genome = preset(name).replace(classes=174)
    ours = build_model(genome)
    own = ours.state_dict()
    names = slowfast_names(genome)
    assert len(names) == len(sorted(k for k in own if not k.endswith("num_batches_tracked")))
    foreign = slowfast_state(genome)
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


def test_pytorchvideo_x3d_m_to_safetensors_gives_the_logits_of_the_checkpoint_path(tmp_path, capsys):
    from archspace import load_model
    from archspace.cli import main

    torch.manual_seed(0)
    theirs = create_x3d(input_clip_length=4, input_crop_size=96, depth_factor=2.2, model_num_class=10,
                        head_activation=None)
    _randomise_bn(theirs)
    torch.save({"model_state": theirs.state_dict()}, tmp_path / "X3D_M.pyth")
    args = ["convert", "--from", "pytorchvideo", str(tmp_path / "X3D_M.pyth"), "--arch", "x3d_m", "--frames", "4",
            "--crop", "96", "--train-crop", "96", "--classes", "10", "--out"]
    assert main(args + [str(tmp_path / "x3d_m.pt")]) == 0
    assert main(args + [str(tmp_path / "x3d_m.safetensors")]) == 0
    assert capsys.readouterr().out.count("(all weights mapped)") == 2
    clip = torch.randn(2, 3, 4, 96, 96)
    with torch.no_grad():
        via_checkpoint = load_model(tmp_path / "x3d_m.pt")(clip)
        via_safetensors = load_model(tmp_path / "x3d_m.safetensors")(clip)
        reference = theirs.eval()(clip)
    assert torch.equal(via_checkpoint, via_safetensors)
    assert (via_safetensors - reference).abs().max().item() < 1e-5


def test_convert_with_weights_that_do_not_fit_writes_nothing_unless_allowed(tmp_path, capsys):
    import json

    from archspace.cli import main

    # A 400-class X3D-L (deeper stages than x3d_xs) read as a 10-class x3d_xs.
    torch.manual_seed(0)
    theirs = create_x3d(input_clip_length=4, input_crop_size=32, depth_factor=5.0, model_num_class=400,
                        head_activation=None)
    torch.save({"model_state": theirs.state_dict()}, tmp_path / "deep.pyth")
    args = ["convert", "--from", "pytorchvideo", str(tmp_path / "deep.pyth"), "--arch", "x3d_xs", "--frames", "4",
            "--crop", "32", "--train-crop", "32", "--classes", "10", "--out", str(tmp_path / "o.pt")]
    assert main(args + ["--report", str(tmp_path / "report.json")]) == 2
    err = capsys.readouterr().err
    assert not (tmp_path / "o.pt").exists()
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["missing"] == [] and len(report["mismatched"]) == 2 and len(report["unexpected"]) > 5
    lines = err.splitlines()
    assert lines[-1] == (f"archspace: error: the weights do not fit the genome (0 missing, {len(report['unexpected'])} "
                         "unexpected, 2 mis-shaped); nothing written: pass --allow-missing (allow_missing=True) to "
                         "write it with those left as initialised, --report FILE for every name")
    unexpected = [line for line in lines if "unexpected (ignored): " in line]
    assert unexpected == [f"convert: {len(report['unexpected'])} unexpected (ignored): "
                          f"{', '.join(report['unexpected'][:5])} and {len(report['unexpected']) - 5} more"]
    assert "convert: 2 shape mismatch (left as initialised): head.classifier.fc.weight, head.classifier.fc.bias" in lines
    assert len(err) < 2000  # a summary, not every name
    assert main(args + ["--allow-missing"]) == 0
    assert "wrote " + str(tmp_path / "o.pt") + " (2 tensor(s) left as initialised)" in capsys.readouterr().out
    assert (tmp_path / "o.pt").is_file()
