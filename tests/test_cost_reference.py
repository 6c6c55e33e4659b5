"""Exact figures of ARCHITECTURES.md, analytically and (for the key ones) through fvcore."""

import pytest

from archspace import count, preset
from fvcore_judge import judge

# (preset, classes, frames, crop) -> (params, fvcore FLOPs)
FVCORE = {
    ("vov3d_m", 174, 16, 224): (3_204_286, 5_107_821_952),
    ("x3d_m", 174, 16, 224): (3_331_248, 4_898_188_800),
    ("vov3d_l", 174, 16, 224): (5_834_094, 9_575_294_208),
    ("vov3d_m_paper", 174, 16, 224): (3_337_374, 4_573_985_280),
    ("vov3d_m", 174, 32, 224): (3_204_286, 10_214_484_352),
    ("x3d_s", 400, 13, 160): (3_794_322, 2_031_781_712),
}
# The published figures, paper convention: (preset, classes, frames, crop, train crop).
PAPER = {
    ("x3d_m", 400, 16, 224, 224): (3_794_322, 4_732_468_736),
    ("vov3d_m", 400, 16, 256, 224): (3_667_360, 6_425_952_640),
}


def _genome(name, classes, frames, crop, train_crop=None):
    return preset(name).replace(classes=classes, frames=frames, crop=crop, train_crop=train_crop or crop)


@pytest.mark.parametrize("key", list(FVCORE), ids=lambda k: "-".join(map(str, k)))
def test_analytical_matches_reference(key):
    cost = count(_genome(*key))
    assert (cost.params, cost.flops) == FVCORE[key]


@pytest.mark.parametrize("key", list(PAPER), ids=lambda k: "-".join(map(str, k)))
def test_paper_convention_reproduces_published_figures(key):
    cost = count(_genome(*key), counter="paper")
    assert (cost.params, cost.flops) == PAPER[key]


def _truncated(x: float) -> float:
    return int(x * 10) / 10  # the paper's tables truncate (6.199 is printed 6.1)


# Paper Table 6: vov3d_m_paper, 174 classes, 16 x 256^2 test crop, train crop 224.
TABLE_6 = [
    (dict(block="bottleneck"), 44.3, 103.2),
    (dict(block="r2plus1d"), 21.5, 48.9),
    (dict(block="dw"), 3.4, 6.1),
    (dict(block="d1p2d"), 3.3, 5.8),
    (dict(block="d2p1d"), 3.3, 5.7),
    (dict(block="d2p1d", inter="relu"), 3.3, 5.7),
    (dict(block="d2p1d", inter="bn_relu"), 3.3, 5.7),
]


@pytest.mark.parametrize("change,mparams,gflops", TABLE_6, ids=lambda v: str(v))
def test_paper_table_6_every_row(change, mparams, gflops):
    g = _genome("vov3d_m_paper", 174, 16, 256, 224).replace(**change)
    cost = count(g, "paper")
    assert (_truncated(cost.params / 1e6), _truncated(cost.flops / 1e9)) == (mparams, gflops)


@pytest.mark.parametrize("key", [("vov3d_m", 174, 16, 224), ("x3d_m", 174, 16, 224)], ids=["vov3d_m", "x3d_m"])
def test_fvcore_and_torch_agree_on_presets(key):
    seen = judge(_genome(*key))
    assert (seen["params"], seen["flops"]) == FVCORE[key]
    assert seen["acts"] == count(_genome(*key)).acts


@pytest.mark.parametrize("key", list(PAPER), ids=lambda k: k[0])
def test_paper_convention_matches_fvcore_conv_linear_on_fixed_pool_head(key):
    seen = judge(_genome(*key), counter="paper")
    assert (seen["params"], seen["flops"]) == PAPER[key]


def test_stage_rows_add_up_and_shapes_follow_strides():
    cost = count(preset("vov3d_m"))
    assert [s.name for s in cost.stages] == ["stem", "stage2", "stage3", "stage4", "stage5", "head"]
    assert sum(s.params for s in cost.stages) == cost.params
    assert sum(s.flops for s in cost.stages) == cost.flops
    assert [s.output for s in cost.stages] == [
        (20, 16, 112, 112),
        (20, 16, 56, 56),
        (40, 16, 28, 28),
        (80, 16, 14, 14),
        (160, 16, 7, 7),
        (400,),
    ]


def test_paper_head_needs_crop_at_least_train_crop():
    from archspace import UserError

    with pytest.raises(UserError, match=r"fixed 16x7x7 kernel .* lower the train crop to at most 160 \(--train-crop 160"):
        count(preset("vov3d_m").replace(crop=160, train_crop=224), "paper")


def test_cost_units_and_dict():
    cost = count(_genome("vov3d_m", 174, 16, 224))
    assert cost.gflops == 5.107821952 and cost.mparams == 3.204286 and cost.counter == "fvcore"
    d = cost.to_dict()
    assert (d["params"], d["flops"], d["acts"], d["counter"]) == (3_204_286, 5_107_821_952, cost.acts, "fvcore")
    assert d["stages"][0] == {"name": "stem", "params": cost.stages[0].params, "flops": cost.stages[0].flops,
                              "acts": cost.stages[0].acts, "output": [20, 16, 112, 112]}
    assert d["stages"][-1]["output"] == [174] and len(d["stages"]) == 6
    # Counts are integers (JSON prints 3204286, not 3204286.0), per stage too.
    for c in (cost, count(preset("x3d_m"), "paper")):
        assert all(type(v) is int for s in c.stages for v in (s.params, s.flops, s.acts, *s.output))
        assert all(type(v) is int for v in (c.params, c.flops, c.acts))


def test_unknown_counter_is_named():
    from archspace import UserError
    from archspace.cost import count_layers

    for counter_fn in (count, count_layers):
        with pytest.raises(UserError, match=r"^unknown counter 'flops'; choose from fvcore, paper$"):
            counter_fn(preset("x3d_xs"), "flops")


def test_a_cold_count_equals_a_warm_one():
    from archspace import plan
    from archspace.cost import _BLOCK_MEMO, clear_caches

    warm = count(preset("vov3d_l"))
    assert _BLOCK_MEMO and plan._tosa.cache_info().currsize > 0
    clear_caches()
    assert not _BLOCK_MEMO and plan._tosa.cache_info().currsize == plan._x3d_block.cache_info().currsize == 0
    assert count(preset("vov3d_l")) == warm


def test_plan_names_a_bad_head_pool():
    from archspace.plan import plan_network

    with pytest.raises(ValueError, match=r"^head_pool must be 'global' or 'fixed'; got 'avg'$"):
        plan_network(preset("x3d_xs"), head_pool="avg")


def test_paper_head_error_names_kernel_map_and_the_largest_train_crop():
    from archspace import UserError

    with pytest.raises(UserError) as err:
        count(preset("x3d_xs").replace(crop=96, train_crop=160), "paper")
    assert str(err.value) == (
        "the paper counter's head pools with a fixed 4x5x5 kernel (frames, train_crop/32), larger than the final "
        "map 4x3x3 at this crop: lower the train crop to at most 96 (--train-crop 96, or --set train_crop=96)")
    # One pixel less than the kernel fits: the map at crop 128 is 4x4, the kernel ceil(129/32) = 5.
    with pytest.raises(UserError, match=r"fixed 4x5x5 kernel .* final map 4x4x4 .* at most 128 "):
        count(preset("x3d_xs").replace(crop=128, train_crop=129), "paper")
    assert count(preset("x3d_xs").replace(crop=128, train_crop=128), "paper").flops > 0


def test_plan_network_pools_globally_unless_told_otherwise():
    # the default of the public plan_network (every caller in archspace passes head_pool)
    from archspace.plan import plan_network

    genome = preset("x3d_xs")
    assert plan_network(genome) == plan_network(genome, head_pool="global") != plan_network(genome, head_pool="fixed")
