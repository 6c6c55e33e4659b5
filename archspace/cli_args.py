"""Argument pieces shared by every `archspace` verb: the parser class, the genome
arguments, the data and runtime arguments, and the KEY=VALUE parser.

Verb modules (archspace/*/cli.py) build their parsers from these, so a flag means the
same thing and has the same help text in every verb. Imports only genome, device and errors:
any layer may use it, and `archspace cost` stays free of torch.
"""

from __future__ import annotations

import argparse
from typing import Any

from archspace.device import check_device_name
from archspace.errors import UserError
from archspace.genome import Genome, apply_assignments, load_genome, parse_key_value, preset


class Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as one line and exit status 2."""

    def error(self, message: str):  # noqa: D401 - argparse hook
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_genome_arguments(p: argparse.ArgumentParser, required: bool = True) -> None:
    """--arch / --genome plus the overrides every verb that takes a network accepts."""
    src = p.add_mutually_exclusive_group(required=required)
    src.add_argument("--arch", metavar="PRESET", help="a preset name (see `archspace presets`)")
    src.add_argument("--genome", metavar="FILE.yaml", help="a genome YAML file (see `archspace genome`)")
    p.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a genome field, e.g. --set block=dw --set depths=[1,2,3,2]",
    )
    p.add_argument("--frames", type=int, help="input frames T")
    p.add_argument("--crop", type=int, help="input crop S (S x S)")
    p.add_argument("--train-crop", type=int, help="train crop (sets the paper head's pool)")
    p.add_argument("--classes", type=int, help="number of classes")


def genome_from_args(args: argparse.Namespace) -> Genome:
    """The genome named by --arch/--genome with --set and the size flags applied."""
    genome = preset(args.arch) if args.arch else load_genome(args.genome)
    sized = {
        "frames": args.frames,
        "crop": args.crop,
        "train_crop": args.train_crop,
        "classes": args.classes,
    }
    assignments = list(args.assignments) + [f"{k}={v}" for k, v in sized.items() if v is not None]
    return apply_assignments(genome, assignments)


def describe_genome(genome: Genome, label: str) -> str:
    """One line for humans: family, block, depths, input, classes."""
    g = genome
    block = g.block + ("" if g.inter == "none" else f"+{g.inter}")
    modules = f", {g.modules} modules/T-OSA" if g.family == "vov3d" else ""
    return (
        f"{label}: {g.family}, {block}{modules}, depths {list(g.depths)}, "
        f"{g.frames} x {g.crop}^2 (train crop {g.train_crop}), {g.classes} classes"
    )


def parse_key_values(texts: list[str], option: str) -> dict[str, Any]:
    """`KEY=VALUE` strings (VALUE read as YAML) as a dict; bad ones raise UserError."""
    return dict(parse_key_value(t, option) for t in texts)


def add_data_arguments(p: argparse.ArgumentParser, required: bool = True) -> None:
    """--data, --layout and --workers, with one wording for every verb that reads videos."""
    p.add_argument("--data", required=required, metavar="DIR",
                   help="data set folder (Something-Something, Kinetics or class-folder layout)")
    p.add_argument("--layout", choices=("ssv2", "kinetics", "folder"),
                   help="ssv2, kinetics or folder (default: detected from the folder)")
    p.add_argument("--workers", type=int, default=0, help="data loader worker processes (default 0)")


def add_runtime_arguments(p: argparse.ArgumentParser, training: bool = True) -> None:
    """--device, and for training --amp, --channels-last and --compile."""
    p.add_argument("--device", default="cpu", type=device_argument, help="cpu (default) or cuda")
    if not training:
        return
    # Measured on an H200 (benchmarks/cuda_check.py, X3D-M and VoV3D-M at 16 x 160^2, batch 16)
    p.add_argument("--amp", action="store_true", help="bf16 autocast (half the GPU memory; trains ~0.9x as fast "
                   "as float32, which uses TF32, on an H200)")
    p.add_argument("--channels-last", action="store_true",
                   help="channels_last_3d weights and clips on the GPU: 5-6x SLOWER to train X3D and VoV3D on "
                        "an H200 (cuDNN's depthwise 3D convs); on the CPU models always run in it")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (the first step compiles: ~2 min "
                   "for VoV3D-M)")


def device_argument(name: str) -> str:
    """argparse type of --device: the name checked when parsed, before torch is imported."""
    try:
        return check_device_name(name)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def check_at_least(args: argparse.Namespace, minimums: dict[str, int]) -> None:
    """Raise UserError for the first integer option below its minimum (None means unset)."""
    for name, minimum in minimums.items():
        value = getattr(args, name, None)
        if value is not None and value < minimum:
            raise UserError(f"--{name.replace('_', '-')} must be >= {minimum}; got {value}")


def add_address_argument(p: argparse.ArgumentParser) -> None:
    """--address: verbs that train through Ray (search, experiment) join a cluster with it."""
    p.add_argument("--address", help="join an existing Ray cluster (HEAD_IP:6379) instead of starting one")
