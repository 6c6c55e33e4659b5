"""The YAML design-space schema: shipped files, genomes, applicability, summary, errors."""

import inspect
import math
import pickle
import random
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pytest
import yaml

from archspace import UserError, count, preset
from archspace.genome import TWO_CONV_BLOCKS, random_genome, vov3d_genome, x3d_genome
from archspace.search.schema import SpaceError
from archspace.search.settings import SYNTH_OPTIONS, parse_duration
from archspace.search.space import Space, format_summary, load_space, wilson_interval
from archspace.search.stagecost import StageCostMemo

ROOT = Path(__file__).resolve().parents[1]
SPACES = ROOT / "search_spaces"

optuna.logging.set_verbosity(optuna.logging.WARNING)


def space_of(text: str, tmp_path: Path, name: str = "space.yaml") -> Space:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return load_space(path)


# ------------------------------------------------------------------------ shipped files


def test_shipped_spaces_load_with_their_settings():
    vov = load_space(SPACES / "vov3d.yaml")
    assert vov.base == preset("vov3d_m") and vov.base_name == "vov3d_m"
    assert [k.name for k in vov.knobs] == ["width", "depths", "modules", "block", "frames", "inter"]
    assert (vov.target.frames, vov.target.crop, vov.target.train_crop, vov.target.classes, vov.target.counter) == (
        16, 224, 224, 174, "fvcore",
    )
    assert vov.objectives == {"accuracy": "max", "gflops": "min"}
    assert vov.constraints.declared() == ("max_gflops",) and vov.constraints.max_gflops == 12
    assert vov.references == ("vov3d_m", "vov3d_l", "x3d_m")
    assert (vov.proxy.data, vov.proxy.frames, vov.proxy.crop, vov.proxy.epochs, vov.proxy.lr) == ("synth", 4, 48, 4, 0.8)
    assert (vov.search.sampler, vov.search.trials, vov.search.scheduler, vov.search.time_budget) == (
        "nsga2", 40, "none", 600)
    assert vov.raw["base"] == "vov3d_m"

    table6 = load_space(SPACES / "table6.yaml")
    assert table6.base == preset("vov3d_m_paper")
    assert (table6.target.crop, table6.target.train_crop, table6.target.counter) == (256, 224, "paper")
    assert table6.search.sampler == "grid" and table6.size() == (11, True)
    # Table 6's rows, as printed (truncated): D(2+1)D 3.3 M / 5.7 G, bottleneck 44.3 M / 103.2 G.
    for knobs, row in (({"block": "d2p1d", "inter": "none"}, (3.3, 5.7)), ({"block": "bottleneck"}, (44.3, 103.2))):
        cost = table6.cost(table6.genome(knobs))
        assert (int(cost.params / 1e5) / 10, int(cost.flops / 1e8) / 10) == row

    x3d = load_space(SPACES / "x3d.yaml")
    assert x3d.base.family == "x3d" and x3d.target.train_crop is None


def test_vov3d_space_reproduces_vov3d_m_and_l_at_the_target():
    space = load_space(SPACES / "vov3d.yaml")
    common = dict(modules=5, block="d2p1d", inter="none", frames=16)
    m = space.genome(dict(width=40, depths=[1, 2, 3, 2], **common))
    assert m == preset("vov3d_m").replace(classes=174, frames=16, crop=224, train_crop=224)
    large = space.genome(dict(width=48, depths=(1, 2, 5, 3), **common))
    assert large == preset("vov3d_l").replace(classes=174)
    # No knobs at all: the base at the target input.
    assert space.genome({}) == preset("vov3d_m").replace(classes=174)


def test_x3d_width_and_depth_knobs_reproduce_x3d_m_and_l():
    space = load_space(SPACES / "x3d.yaml")
    depth = next(k for k in space.knobs if k.name == "depth")
    assert 2.2 in depth.values() and 5.0 in depth.values()  # on the grid, as exact floats
    m = space.genome(dict(depth=2.2, width=2.0, block="dw", crop=224, frames=16))
    assert m == preset("x3d_m").replace(classes=174)
    assert (m.depths, m.inner_widths, m.out_widths, m.stem_width, m.head_width) == (
        (3, 5, 11, 7), (54, 108, 216, 432), (24, 48, 96, 192), 24, 432,
    )
    large = space.genome(dict(depth=5.0, width=2.0, block="dw", crop=312, frames=16))
    assert large == preset("x3d_l").replace(classes=174)  # train crop follows the crop knob
    assert large.depths == (5, 10, 25, 15)
    assert space.genome(dict(width=1.0)).stem_width == 16 and space.genome(dict(width=3.0)).stem_width == 40


# ------------------------------------------------------------------------ applicability


def run_study(space: Space, trials: int = 50) -> list:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    suggested = []

    def objective(trial):
        knobs = space.suggest(trial)
        suggested.append((trial, knobs, space.genome(knobs)))
        return 0.0

    study.optimize(objective, n_trials=trials)
    return suggested


def test_inter_is_only_suggested_for_two_conv_blocks():
    space = load_space(SPACES / "vov3d.yaml")
    runs = run_study(space)
    blocks = {knobs["block"] for _, knobs, _ in runs}
    assert "dw" in blocks and blocks & set(TWO_CONV_BLOCKS)
    for trial, knobs, genome in runs:
        if knobs["block"] == "dw":
            assert "inter" not in trial.params and genome.inter == "none"
        else:
            assert trial.params["inter"] == knobs["inter"] == genome.inter
        # List choices are stored by label and decoded back to the real value.
        assert isinstance(trial.params["depths"], str) and isinstance(knobs["depths"], tuple)
        assert genome.depths == knobs["depths"]
        assert space.decode(trial.params) == knobs


def test_a_grid_is_enqueued_from_enumerate():
    space = load_space(SPACES / "table6.yaml")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for knobs in space.enumerate():
        study.enqueue_trial(space.encode(knobs))
    genomes = []
    study.optimize(lambda trial: genomes.append(space.genome(space.suggest(trial))) or 0.0, n_trials=11)
    assert len(set(genomes)) == 11 and {(g.block, g.inter) for g in genomes} == {
        ("bottleneck", "none"), ("dw", "none"),
        *((b, i) for b in ("r2plus1d", "d1p2d", "d2p1d") for i in ("none", "relu", "bn_relu")),
    }
    vov = load_space(SPACES / "vov3d.yaml")
    knobs = next(iter(vov.enumerate()))
    assert vov.encode(knobs)["depths"] == "[1, 1, 2, 2]" and vov.decode(vov.encode(knobs)) == knobs


def test_modules_is_never_a_knob_of_an_x3d_space(tmp_path):
    space = load_space(SPACES / "x3d.yaml")
    for trial, knobs, genome in run_study(space):
        assert "modules" not in trial.params and genome.modules == 1
        assert genome.family == "x3d" and space.feasible(space.cost(genome)) == (
            space.cost(genome).flops / 1e9 <= 12
        )
    with pytest.raises(UserError, match=r"knobs\.modules: applies only to vov3d"):
        space_of("base: x3d_m\nknobs: {modules: {choices: [1, 2]}}\n", tmp_path)


def test_genome_refuses_what_the_space_does_not_hold():
    space = load_space(SPACES / "vov3d.yaml")
    with pytest.raises(UserError, match="knob inter does not apply to block 'dw'"):
        space.genome({"block": "dw", "inter": "relu"})
    with pytest.raises(UserError, match="unknown knob 'widht'"):
        space.genome({"widht": 40})
    with pytest.raises(UserError, match="knob width: 44 is not in the space"):
        space.genome({"width": 44})


# ------------------------------------------------------------------------------ summary


def by_hand(genomes, max_gflops):
    costs = [count(g) for g in set(genomes)]
    gflops = [c.flops / 1e9 for c in costs]
    params = [c.params / 1e6 for c in costs]
    return dict(
        size=len(costs),
        feasible=sum(g <= max_gflops for g in gflops),
        gflops_min=min(gflops),
        gflops_max=max(gflops),
        params_m_min=min(params),
        params_m_max=max(params),
    )


def test_summary_of_a_vov3d_space_equals_counting_every_genome_by_hand(tmp_path):
    space = space_of(
        """
        base: vov3d_m
        knobs:
          width: {choices: [32, 40]}
          depth: {choices: [0.9, 1.0, 1.5]}   # 0.9 and 1.0 both give [1, 2, 3, 2]
          block: {choices: [dw, d2p1d]}
          inter: {choices: [none, bn_relu]}
          frames: {choices: [8, 16]}
        target: {frames: 16, crop: 224, classes: 174}
        constraints: {max_gflops: 3}
        """,
        tmp_path,
    )
    genomes = []
    for width in (32, 40):
        for multiplier in (0.9, 1.0, 1.5):
            depths = tuple(max(1, math.floor(multiplier * d + 0.5)) for d in (1, 2, 3, 2))
            for block in ("dw", "d2p1d"):
                for inter in ("none", "bn_relu") if block == "d2p1d" else ("none",):
                    for frames in (8, 16):
                        g = vov3d_genome(width, depths, modules=5, frames=frames, classes=174)
                        genomes.append(g.replace(block=block, inter=inter))
    expected = by_hand(genomes, max_gflops=3)
    assert expected["size"] == 2 * 2 * 3 * 2 and 0 < expected["feasible"] < expected["size"]
    summary = space.summary()
    assert summary["exact"] and summary["size_exact"]
    assert {k: summary[k] for k in expected} == expected
    enumerated = [space.genome(a) for a in space.enumerate()]
    assert len(enumerated) == len(set(enumerated)) == expected["size"]
    assert set(enumerated) == set(genomes)


def test_summary_of_an_x3d_space_drops_width_factors_that_round_alike(tmp_path):
    space = space_of(
        """
        base: x3d_m
        knobs:
          width: {choices: [1.0, 1.5, 2.0]}   # 1.0 and 1.5 both round to a 16-channel stem
          depth: {choices: [2.2, 5.0]}
          crop: {choices: [160, 224]}
        target: {classes: 174}
        constraints: {max_gflops: 4}
        """,
        tmp_path,
    )
    genomes = [
        x3d_genome(depth, frames=16, crop=crop, width_factor=width, classes=174)
        for width in (1.0, 1.5, 2.0)
        for depth in (2.2, 5.0)
        for crop in (160, 224)
    ]
    expected = by_hand(genomes, max_gflops=4)
    assert expected["size"] == 8
    summary = space.summary()
    assert {k: summary[k] for k in expected} == expected and summary["exact"]
    assert len(list(space.enumerate())) == 8


def test_sampled_summary_brackets_the_exact_count(tmp_path):
    space = load_space(SPACES / "vov3d.yaml")
    exact = space.summary()
    estimate = space.summary(time_limit_s=0, sample=2000, seed=3)
    assert exact["exact"] and not estimate["exact"] and estimate["sample"] == 2000
    assert estimate["size"] == exact["size"] == 1280
    assert estimate["feasible_low"] <= exact["feasible"] <= estimate["feasible_high"]
    assert exact["gflops_min"] <= estimate["gflops_min"] <= estimate["gflops_max"] <= exact["gflops_max"]
    assert estimate == space.summary(time_limit_s=0, sample=2000, seed=3) | {"seconds": estimate["seconds"]}
    text = format_summary(space, exact)
    assert "1,280 distinct genomes" in text and "every genome counted" in text and "gflops <= 12" in text
    assert "inter    choices none, relu, bn_relu   (only with r2plus1d, d1p2d, d2p1d)" in text
    assert "estimated from 2,000 sampled genomes" in format_summary(space, estimate)


def test_a_50k_space_is_counted_exactly_and_a_million_is_estimated():
    knobs = {
        "width": {"low": 32, "high": 48, "step": 8},
        "depths.0": {"low": 1, "high": 2},
        "depths.1": {"low": 1, "high": 3},
        "depths.2": {"low": 1, "high": 6},
        "depths.3": {"low": 1, "high": 3},
        "modules": {"low": 4, "high": 5},
        "block": {"choices": ["d2p1d", "dw", "d1p2d"]},
        "inter": {"choices": ["none", "relu"]},
        "se_ratio": {"choices": [0.0, 0.0625]},
        "frames": {"choices": [8, 16]},
        "temporal_kernel": {"choices": [3, 5]},
        "crop": {"choices": [192, 224]},
    }
    raw = {"base": "vov3d_m", "knobs": knobs, "target": {"classes": 174}, "constraints": {"max_gflops": 6}}
    space = Space.from_dict(raw)
    summary = space.summary()
    assert summary["size"] == 3 * 108 * 2 * (1 + 2 * 2) * 2 * 2 * 2 * 2 == 51840
    assert summary["exact"] and 0 < summary["feasible"] < summary["size"]
    # Spot check against cost.count: the extremes are genomes of the space.
    rng = random.Random(0)
    for _ in range(20):
        c = space.cost(space.genome(space.random_knobs(rng)))
        assert summary["gflops_min"] <= c.flops / 1e9 <= summary["gflops_max"]

    # More widths, modules, blocks and crops: 933,120 genomes; a 1 s limit forces the estimate.
    knobs.update(crop={"choices": [160, 224, 256]})
    knobs.update(width={"low": 24, "high": 64, "step": 8}, modules={"low": 3, "high": 6})
    knobs.update(block={"choices": ["d2p1d", "dw", "d1p2d", "r2plus1d"]}, inter={"choices": ["none", "relu", "bn_relu"]})
    knobs.update(se_ratio={"choices": [0.0, 0.0625, 0.25]})
    big = Space.from_dict(raw)
    estimate = big.summary(time_limit_s=1, sample=300)
    assert estimate["size"] == 933120 and estimate["size_exact"] and not estimate["exact"]
    assert estimate["feasible_low"] <= estimate["feasible"] <= estimate["feasible_high"] < 933120


def test_a_continuous_knob_is_sampled_not_enumerated(tmp_path):
    space = space_of("base: vov3d_m\nknobs: {se_ratio: {low: 0.01, high: 0.5, log: true}}\n", tmp_path)
    assert space.size() == (None, False)
    with pytest.raises(UserError, match="space.yaml: knobs.se_ratio: a float range without step is not enumerable"):
        list(space.enumerate())
    summary = space.summary(sample=50)
    assert summary["size"] is None and not summary["exact"] and summary["feasible_fraction"] == 1.0
    assert "continuous" in format_summary(space, summary)


def test_wilson_interval():
    low, high = wilson_interval(50, 100)
    assert (round(low, 4), round(high, 4)) == (0.4038, 0.5962)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0


# ----------------------------------------------------------------- costs and the proxy


def test_stage_memo_equals_count_on_random_genomes():
    rng = random.Random(5)
    genomes = [random_genome(rng) for _ in range(40)] + [random_genome(rng, "tiny") for _ in range(40)]
    # Variants that share stages with those above, the memo's whole point.
    genomes += [g.replace(depths=(g.depths[0] + 1,) + g.depths[1:]) for g in genomes[:40]]
    genomes += [g.replace(classes=g.classes + 1, head_width=g.head_width + 8) for g in genomes[:40]]
    for counter in ("fvcore", "paper"):
        memo = StageCostMemo(counter)
        for g in genomes + genomes[::-1]:
            c = count(g, counter)
            assert memo.cost(g.to_dict() | {k: tuple(v) for k, v in g.to_dict().items() if isinstance(v, list)}) == (
                c.params, c.flops,
            )
        assert memo.counts < 2 * len(genomes)


def test_constraint_values_follow_optunas_convention(tmp_path):
    space = space_of(
        "base: vov3d_m\nknobs: {width: {choices: [32, 40]}}\n"
        "target: {classes: 174}\nconstraints: {max_gflops: 12, min_params_m: 2}\n",
        tmp_path,
    )
    cost = space.cost(space.genome({"width": 40}))
    assert cost.flops == count(preset("vov3d_m").replace(classes=174)).flops
    assert space.constraint_values(cost) == pytest.approx((cost.flops / 1e9 - 12, 2 - cost.params / 1e6))
    assert space.feasible(cost)
    assert load_space(SPACES / "table6.yaml").constraint_values(cost) == ()


def test_proxy_input_scales_with_the_genome_input(tmp_path):
    space = space_of("base: x3d_m\nknobs: {crop: {choices: [160, 224, 312]}, frames: {choices: [13, 16]}}\n"
                     "proxy: {frames: 8, crop: 48}\n", tmp_path)  # target 16 x 224 (x3d_m's), proxy 8 x 48
    assert space.proxy_input(space.genome({})) == (8, 48)
    assert space.proxy_input(space.genome({"frames": 13, "crop": 312})) == (7, 68)  # 6.5 -> 7, 66.9 -> 68
    assert space.proxy_input(space.genome({"crop": 160})) == (8, 36)
    assert space.proxy_input(preset("x3d_xs")) == (2, 36)
    small = space_of("base: x3d_m\nknobs: {crop: {choices: [160, 224]}}\nproxy: {crop: 32, frames: 1}\n", tmp_path)
    assert small.proxy_input(preset("x3d_xs")) == (1, 32)  # at least 1 frame and 32 pixels


# -------------------------------------------------------------------------- settings


def test_proxy_and_search_settings_are_read(tmp_path):
    space = space_of(
        """
        base: vov3d_m
        knobs: {block: {choices: [dw, d2p1d]}}
        proxy: {data: data/synth, epochs: 3, fraction: 0.5, lr: 0.2, classes: [moving_left, moving_right],
                synth: {videos_per_class: 10, size: 64}}
        search: {sampler: tpe, trials: 40, concurrency: 4, seed: 7, scheduler: none, time_budget: 1h30m}
        references: [x3d_m]
        """,
        tmp_path,
    )
    p, s = space.proxy, space.search
    assert (p.data, p.epochs, p.fraction, p.lr, p.classes) == ("data/synth", 3, 0.5, 0.2, ("moving_left", "moving_right"))
    # given synth options over the calibrated defaults
    assert p.synth == {"videos_per_class": 10, "val_videos_per_class": 20, "frames": 32, "size": 64, "scene": "easy"}
    assert (s.sampler, s.trials, s.concurrency, s.seed, s.scheduler, s.time_budget) == ("tpe", 40, 4, 7, "none", 5400.0)
    assert space.references == ("x3d_m",)


@pytest.mark.parametrize("text,seconds", [(90, 90.0), ("90s", 90.0), ("15m", 900.0), ("1h", 3600.0), ("2.5h", 9000.0), ("600", 600.0)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_synth_options_are_the_generators_own():
    from archspace.data.synth import generate

    params = set(inspect.signature(generate).parameters) - {"out", "progress", "workers"}
    assert set(SYNTH_OPTIONS) == params


def test_loading_a_space_imports_no_torch_ray_or_optuna():
    code = (
        "import sys; from archspace.search.space import load_space; s = load_space('search_spaces/vov3d.yaml'); "
        "s.summary(); print(sorted(m for m in ('torch', 'ray', 'optuna') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------ bad files

GOOD = {"base": "vov3d_m", "knobs": {"block": {"choices": ["dw", "d2p1d"]}}}


def with_(**sections):
    return yaml.safe_dump({**GOOD, **sections}, sort_keys=False)


BAD = [
    ("base: vov3d_m\nknobs: {width: [1, 2}\n", "malformed YAML at line 2"),
    ("- base\n- knobs\n", "a space file must be a mapping of sections"),
    (with_(knbos={}), "knbos: unknown key; allowed: base, fixed, knobs"),
    ("base: vov3d_m\nbase: x3d_m\nknobs: {block: {choices: [dw]}}\n", "duplicate key 'base'"),
    (with_(base="vov3d_xl"), "base: unknown preset 'vov3d_xl'; choose from vov3d_m"),
    (with_(knobs={"widht": {"choices": [40]}}), "knobs.widht: unknown knob; allowed:"),
    (with_(knobs={"family": {"choices": ["x3d"]}}), "knobs.family: not a knob: a space has one family"),
    (with_(knobs={"classes": {"choices": [10]}}), "knobs.classes: not a knob: set by target.classes"),
    (with_(knobs={"block": {"choices": []}}), "knobs.block.choices: is empty"),
    (with_(knobs={"block": {"choices": ["dw", "dw"]}}), r"knobs.block.choices\[1\]: duplicate choice dw"),
    (with_(knobs={"width": {"choice": [40]}}), "knobs.width.choice: unknown key; allowed: choices, low, high"),
    (with_(knobs={"width": [32, 40]}), r"knobs.width: must be a mapping: \{choices"),
    (with_(knobs={"modules": {"low": 6, "high": 3}}), r"knobs.modules.high: must be greater than low \(6\)"),
    (with_(knobs={"modules": {"low": 4, "high": 4}}), "knobs.modules.high: must be greater than low"),
    (with_(knobs={"modules": {"low": 3, "high": 6, "step": 0}}), "knobs.modules.step: must be a number > 0"),
    (with_(knobs={"se_ratio": {"low": 0.0, "high": 0.5, "log": True}}), "knobs.se_ratio.low: a log range needs low > 0"),
    ("base: vov3d_m\nknobs: {se_ratio: {low: 1e-3, high: 0.5}}\n", "knobs.se_ratio.low: must be a number; got '1e-3' .YAML reads"),
    (with_(knobs={"block": {"choices": ["dw", "conv9"]}}), "knobs.block: value conv9: block must be one of bottleneck"),
    (with_(knobs={"width": {"choices": [32, 33]}}), "knobs.width: value 33: inner_widths must be even for vov3d"),
    (with_(knobs={"se_ratio": {"choices": [0.0, 1.5]}}), r"knobs.se_ratio: value 1.5: se_ratio must be a number in \[0, 1\)"),
    (with_(knobs={"depths": {"choices": [[1, 2, 3]]}}), r"knobs.depths.choices\[0\]: has 3 stages; the base has 4"),
    (with_(knobs={"depths.4": {"choices": [1, 2]}}), "knobs.depths.4: stage index out of range: the space has stages 0..3"),
    (with_(knobs={"depth": {"choices": [1.0]}, "depths": {"choices": [[1, 1, 1, 1]]}}), "knobs.depths: cannot be combined with depth"),
    (with_(knobs={"inter": {"choices": ["none", "relu"]}}, fixed={"block": "dw"}), "knobs.inter: never applies: block is 'dw'"),
    (with_(fixed={"block": "dw"}), "knobs.block: also pinned under fixed.block"),
    (with_(fixed={"frames": 8}), "fixed.frames: the input is set under target"),
    (with_(fixed={"modules": 0}), "fixed.modules: modules must be an integer >= 1"),
    (with_(target={"crop": 200, "train_crop": 224, "counter": "paper"}), "target.crop: the paper counter pools the head"),
    (with_(target={"counter": "ptflops"}), "target.counter: must be one of fvcore, paper"),
    (with_(constraints={"max_gflops": 0.001}), r"constraints.max_gflops: no genome of the space meets max_gflops 0.001: the lowest found is"),
    (with_(constraints={"min_params_m": 500}), "constraints.min_params_m: no genome of the space meets min_params_m 500"),
    (with_(constraints={"max_flops": 5}), "constraints.max_flops: unknown key; allowed: max_gflops"),
    (with_(constraints={"min_gflops": 5, "max_gflops": 4}), r"constraints.min_gflops: must be below max_gflops \(4\)"),
    (with_(objectives={"acc": "max", "gflops": "min"}), "objectives.acc: unknown key; allowed: accuracy, gflops, params_m, latency_ms"),
    (with_(objectives={"accuracy": "max", "gflops": "max"}), r"objectives.gflops: must be min \(a cost is minimised\)"),
    (with_(objectives={"accuracy": "up", "gflops": "min"}), "objectives.accuracy: must be one of max, min"),
    (with_(objectives={"gflops": "min", "params_m": "min"}), "objectives: must include accuracy: max"),
    (with_(objectives={"accuracy": "max"}), "objectives: give accuracy and at least one cost"),
    (with_(search={"sampler": "cmaes"}), "search.sampler: must be one of nsga2, tpe, random, grid"),
    (with_(search={"scheduler": "hyperband"}), "search.scheduler: must be one of asha, none"),
    (with_(search={"trials": 0}), "search.trials: must be an integer >= 1; got 0"),
    (with_(search={"time_budget": "15 minutes"}), "search.time_budget: must be seconds .a number > 0. or a duration like"),
    (with_(search={"grace_epochs": 5}), r"search.grace_epochs: must be <= proxy.epochs \(4\)"),
    (with_(search={"sampler": "grid"}, knobs={"se_ratio": {"low": 0.0, "high": 0.5}}), "knobs.se_ratio: sampler grid needs a step"),
    (with_(proxy={"epoch": 3}), "proxy.epoch: unknown key; allowed: data, frames"),
    (with_(proxy={"fraction": 1.5}), r"proxy.fraction: must be in \(0, 1\]"),
    (with_(proxy={"crop": 50}), "proxy.crop: must be a multiple of 4; got 50"),
    (with_(proxy={"synth": {"videos": 3}}), "proxy.synth.videos: unknown key; allowed: videos_per_class"),
    (with_(references=["vov3d_m", "x3d_q"]), r"references\[1\]: unknown preset 'x3d_q'"),
    ("knobs: {block: {choices: [dw]}}\n", "base: missing: name the preset"),
]


@pytest.mark.parametrize("text,message", BAD, ids=[m.split(":")[0][:40] for _, m in BAD])
def test_bad_space_file_is_one_line_naming_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as info:
        load_space(path)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: ")
    assert re.search(message, text), text


def test_from_dict_errors_name_the_space_and_a_space_pickles():
    with pytest.raises(UserError, match=r"^<space>: knobs: give at least one knob"):
        Space.from_dict({"base": "vov3d_m", "knobs": {}})
    space = load_space(SPACES / "vov3d.yaml")
    copy = pickle.loads(pickle.dumps(space))  # Ray ships the space to its workers
    knobs = {"width": 48, "block": "dw", "frames": 8}
    assert copy.genome(knobs) == space.genome(knobs) and copy.knobs == space.knobs
    error = pickle.loads(pickle.dumps(SpaceError("knobs.width", "bad", "f.yaml")))
    assert (str(error), error.key) == ("f.yaml: knobs.width: bad", "knobs.width")


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match=r"cannot read space file '.*nope.yaml': No such file"):
        load_space(tmp_path / "nope.yaml")
