import random

import pytest

from archspace import Genome, GenomeError, preset
from archspace.genome import PRESETS, apply_assignments, load_genome, random_genome


def test_presets_are_the_documented_networks():
    assert list(PRESETS) == ["vov3d_m", "vov3d_l", "vov3d_m_paper", "x3d_xs", "x3d_s", "x3d_m", "x3d_l"]
    m = preset("vov3d_m")
    assert (m.inner_widths, m.out_widths, m.stem_width, m.head_width) == (
        (40, 80, 160, 320),
        (20, 40, 80, 160),
        20,
        320,
    )
    assert (m.depths, m.modules, m.block, m.inter) == ((1, 2, 3, 2), 5, "d2p1d", "none")
    assert preset("vov3d_l").depths == (1, 2, 5, 3) and preset("vov3d_l").stem_width == 24
    assert (preset("vov3d_m_paper").depths, preset("vov3d_m_paper").modules) == ((1, 1, 2, 2), 4)
    x = preset("x3d_m")
    assert (x.depths, x.inner_widths, x.out_widths, x.head_width) == (
        (3, 5, 11, 7),
        (54, 108, 216, 432),
        (24, 48, 96, 192),
        432,
    )
    assert preset("x3d_l").depths == (5, 10, 25, 15)
    assert [(preset(n).frames, preset(n).crop) for n in ("x3d_xs", "x3d_s", "x3d_m", "x3d_l")] == [
        (4, 160),
        (13, 160),
        (16, 224),
        (16, 312),
    ]


def test_unknown_preset_lists_the_presets():
    with pytest.raises(GenomeError, match="unknown preset 'vov3d_xl'; choose from vov3d_m, vov3d_l"):
        preset("vov3d_xl")


def test_yaml_round_trip_is_identity(tmp_path):
    rng = random.Random(3)
    for genome in [preset(n) for n in PRESETS] + [random_genome(rng) for _ in range(20)]:
        assert Genome.from_yaml(genome.to_yaml()) == genome
        assert hash(Genome.from_yaml(genome.to_yaml())) == hash(genome)
    path = tmp_path / "g.yaml"
    preset("x3d_s").save(path)
    assert load_genome(path) == preset("x3d_s")


def test_any_block_and_inter_applies_to_either_family():
    for name in ("vov3d_m", "x3d_m"):
        g = preset(name).replace(block="d2p1d", inter="bn_relu")
        assert (g.family, g.block, g.inter) == (preset(name).family, "d2p1d", "bn_relu")


@pytest.mark.parametrize(
    "changes,message",
    [
        (dict(family="resnet"), "family must be one of vov3d, x3d; got 'resnet'"),
        (dict(block="conv"), "block must be one of bottleneck, r2plus1d, dw, d1p2d, d2p1d"),
        (dict(inter="gelu"), "inter must be one of none, relu, bn_relu"),
        (dict(block="dw", inter="relu"), "inter='relu' needs a two-conv block"),
        (dict(inner_widths=(40, 80, 161, 320)), "inner_widths must be even for vov3d"),
        (dict(depths=(1, 2, 3)), "inner_widths has 4 entries but depths has 3"),
        (dict(depths=(1, 0, 3, 2)), "depths must be an integer >= 1; got 0"),
        (dict(crop=31), "crop must be an integer >= 32 for 5 stride-2 stages"),
        (dict(train_crop=16), "train_crop must be an integer >= 32"),
        (dict(frames=0), "frames must be an integer >= 1; got 0"),
        (dict(frames=2.5), "frames must be an integer >= 1; got 2.5"),
        (dict(temporal_kernel=2), "temporal_kernel must be odd"),
        (dict(se_ratio=1.5), "se_ratio must be a number in"),
        (dict(modules=0), "modules must be an integer >= 1"),
        (dict(classes="many"), "classes must be an integer >= 1; got 'many'"),
    ],
)
def test_invalid_genomes_name_the_field(changes, message):
    with pytest.raises(GenomeError) as err:
        preset("vov3d_m").replace(**changes)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_x3d_takes_one_module_per_block():
    with pytest.raises(GenomeError, match="modules must be 1 for family x3d"):
        preset("x3d_m").replace(modules=4)


def test_fewer_stages_need_a_smaller_crop():
    g = preset("vov3d_m").replace(depths=(1, 1), inner_widths=(8, 16), out_widths=(4, 8), crop=8, train_crop=8)
    assert g.num_stages == 2


def test_assignments_parse_yaml_values_and_apply_together():
    g = apply_assignments(
        preset("vov3d_m"),
        ["block=dw", "modules=4", "depths=[1, 1]", "inner_widths=[40,80]", "out_widths=[20, 40]", "se_ratio=0"],
    )
    assert (g.block, g.modules, g.depths, g.inner_widths, g.se_ratio) == ("dw", 4, (1, 1), (40, 80), 0)
    with pytest.raises(GenomeError, match="unknown genome field 'width'; allowed: block, classes"):
        apply_assignments(g, ["width=3"])
    with pytest.raises(GenomeError, match="--set takes KEY=VALUE"):
        apply_assignments(g, ["block"])


@pytest.mark.parametrize(
    "text,message",
    [
        ("family: [", "malformed genome YAML at line"),
        ("- 1\n- 2\n", "a genome must be a mapping"),
        ("family: vov3d\nblock: dw\n", "genome is missing field(s): depths, inner_widths"),
        ("family: vov3d\ncolour: red\n", "unknown genome field 'colour'"),
    ],
)
def test_malformed_yaml_is_one_clear_error(text, message):
    with pytest.raises(GenomeError) as err:
        Genome.from_yaml(text)
    assert message in str(err.value)


def test_random_genomes_are_valid_and_reproducible():
    a = [random_genome(random.Random(7)) for _ in range(2)]
    assert a[0] == a[1]
    rng = random.Random(1)
    families = {random_genome(rng).family for _ in range(50)}
    assert families == {"vov3d", "x3d"}
