"""PySlowFast-format state dicts (X3D and the VoV3D code built on it), from their naming
scheme, as references for the converter (tests only)."""

import re

import torch

from archspace import build_model
from archspace.models.convert import rename


def slowfast_names(genome) -> list[str]:
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


def slowfast_state(genome) -> dict[str, torch.Tensor]:
    """A PySlowFast state dict for `genome` whose tensor number i (in naming order) is all i,
    each shaped as the archspace tensor it should land on."""
    own = build_model(genome).state_dict()
    target = {re.sub(r"(\.layers\.\d+)\.branch\.", r"\1.", k): k for k in own}
    foreign = {}
    for i, n in enumerate(slowfast_names(genome)):
        guess = next(iter(rename({n: torch.zeros(())}, "slowfast", genome.family)))
        key = target.get(guess, guess)
        foreign[n] = torch.full(own[key].shape if key in own else (1,), float(i))
    return foreign
