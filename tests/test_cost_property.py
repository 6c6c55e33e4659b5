"""Random valid genomes: the analytical count equals fvcore and torch, exactly."""

import random
from collections import Counter

import pytest

from archspace import count
from archspace.genome import BLOCKS, FAMILIES, INTERS, TWO_CONV_BLOCKS, Genome, random_genome
from fvcore_judge import judge


def _cases(n: int = 132, seed: int = 20261124):
    """Seeded draws that cycle family x block x inter, so every combination appears six
    times (each draw costs fvcore a model build and a trace: CI time)."""
    combos = [(f, b, i) for f in FAMILIES for b in BLOCKS for i in (INTERS if b in TWO_CONV_BLOCKS else ("none",))]
    rng = random.Random(seed)
    cases = []
    for k in range(n):
        family, block, inter = combos[k % len(combos)]
        genome = random_genome(rng, "tiny", family=family, block=block, inter=inter)
        if k % 3 == 0:
            # The paper counter's fixed head pool: a test crop above the train crop.
            genome = genome.replace(train_crop=max(2 ** (genome.num_stages + 1), genome.crop - rng.randint(0, 24)))
        cases.append(genome)
    return cases


CASES = _cases()


def test_cases_cover_every_family_block_and_inter():
    seen = Counter((g.family, g.block, g.inter) for g in CASES)
    assert len(CASES) == 132
    assert len(seen) == 2 * (2 + 3 * 3)  # per family: 2 one-conv blocks + 3 two-conv x 3 inters
    assert min(seen.values()) == 6


@pytest.mark.parametrize("genome", CASES, ids=lambda g: f"{g.family}-{g.block}-{g.inter}")
def test_fvcore_counter_exact(genome):
    cost = count(genome)
    seen = judge(genome)
    assert (cost.params, cost.flops, cost.acts) == (seen["params"], seen["flops"], seen["acts"])
    assert seen["logits_shape"] == (1, genome.classes)


@pytest.mark.parametrize("genome", CASES[::3], ids=lambda g: f"{g.family}-{g.block}-{g.crop}-{g.train_crop}")
def test_paper_counter_exact(genome):
    cost = count(genome, "paper")
    seen = judge(genome, counter="paper")
    assert (cost.params, cost.flops) == (seen["params"], seen["flops"])


def _small(family: str, block: str, inter: str, crop: int = 40, train_crop: int = 40) -> Genome:
    """Two stages at widths no preset has (an X3D block is one module)."""
    return Genome(family=family, block=block, inter=inter, depths=(2, 1), inner_widths=(24, 48), out_widths=(12, 24),
                  stem_width=8, head_width=48, modules=3 if family == "vov3d" else 1, fc_width=16, frames=4, crop=crop,
                  train_crop=train_crop,
                  classes=5)


LAYER_CASES = [
    (_small("vov3d", "d2p1d", "bn_relu"), "fvcore"),
    (_small("vov3d", "r2plus1d", "relu", crop=48, train_crop=40), "paper"),
    (_small("x3d", "d1p2d", "bn_relu"), "fvcore"),
    (_small("x3d", "bottleneck", "none", crop=48, train_crop=32), "paper"),
    (_small("x3d", "dw", "none", crop=48, train_crop=32), "fvcore"),  # global pool, not the paper's fixed one
]


@pytest.mark.parametrize("genome,counter", LAYER_CASES, ids=lambda v: v if isinstance(v, str) else f"{v.family}-{v.block}")
def test_every_layer_row_is_fvcores_count_of_that_module(genome, counter):
    """count_layers: each row's params, FLOPs and acts are those of the built module of that
    name, as fvcore (per module) and forward hooks see them; rows sum to count()."""
    import torch
    from fvcore.nn import FlopCountAnalysis
    from fvcore.nn.jit_handles import conv_flop_jit, linear_flop_jit
    from torch import nn

    from archspace.cost import count_layers
    from archspace.models import build_model

    model = build_model(genome, head_pool="fixed" if counter == "paper" else "global").eval()
    clip = torch.zeros(1, 3, genome.frames, genome.crop, genome.crop)
    analysis = FlopCountAnalysis(model, clip)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    if counter == "paper":
        analysis.clear_op_handles()
        analysis.set_op_handle("aten::_convolution", conv_flop_jit, "aten::linear", linear_flop_jit)
    outputs = {}
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv3d, nn.Linear)):
            m.register_forward_hook(lambda _m, _i, out, name=name: outputs.__setitem__(name, out))
    with torch.no_grad():
        model(clip)
    modules, flops = dict(model.named_modules()), analysis.by_module()
    rows = count_layers(genome, counter)
    if counter == "fvcore":
        assert count_layers(genome) == rows  # the default counter
    assert len({r.name for r in rows}) == len(rows)
    for r in rows:
        module = modules[r.name]
        acts = sum(out.numel() for name, out in outputs.items() if name == r.name or name.startswith(r.name + "."))
        assert (r.params, r.flops, r.acts) == (sum(p.numel() for p in module.parameters()), flops[r.name], acts), r
    convs = [r for r in rows if isinstance(modules[r.name], nn.Conv3d)]
    assert all(r.output == tuple(outputs[r.name].shape[1:]) for r in convs)
    assert rows[-1].output == (genome.classes,)
    cost = count(genome, counter)
    assert sum(r.params for r in rows) == cost.params and sum(r.flops for r in rows) == cost.flops
    assert sum(r.acts for r in rows) == cost.acts
