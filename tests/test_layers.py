"""Imports run one way, down the layers of DESIGN.md; costing never imports torch."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "archspace"

# Lowest first. A module may import modules of its own layer or of lower layers only.
# The longest matching prefix decides a module's layer.
LAYERS = [
    ("archspace.errors", "archspace.io", "archspace.cachedir", "archspace.version"),
    ("archspace.genome",),
    ("archspace.plan", "archspace.cli_args", "archspace.device"),
    ("archspace.cost",),
    ("archspace.models", "archspace.measure"),
    ("archspace.checkpoint", "archspace.safe_load"),
    ("archspace.models.convert", "archspace.data"),
    ("archspace.train",),
    ("archspace.analysis",),
    ("archspace.search",),
    ("archspace.experiment",),  # an experiment runs genomes through the search's machinery
    ("archspace.genome_cli", "archspace.cache_cli", "archspace.cli", "archspace.__main__", "archspace"),
]
# Analysis sits below search (search prints fronts with it) and reads only a trials table:
# it knows nothing of how the table was made.
FORBIDDEN = {"archspace.analysis": ("archspace.search", "archspace.train")}


def layer_of(module: str) -> int:
    best, layer = -1, None
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, layer = len(prefix), i
    assert layer is not None, f"{module} has no layer: add it to LAYERS"
    return layer


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every archspace module imported anywhere in the file, function bodies included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from archspace import plan` imports the module archspace.plan, not the root
            folder = PACKAGE.parent / node.module.replace(".", "/")
            submodules = {f"{node.module}.{a.name}" for a in node.names
                          if (folder / f"{a.name}.py").exists() or (folder / a.name).is_dir()}
            found.update(submodules or {node.module})
    return {m for m in found if m == "archspace" or m.startswith("archspace.")}


def all_modules():
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", all_modules(), ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_no_module_imports_upward(path):
    me = module_name(path)
    for other in imported_modules(path):
        if other == "archspace" and me != "archspace":
            pytest.fail(f"{me} imports the package root (import the module it needs)")
        assert layer_of(other) <= layer_of(me), f"{me} (layer {layer_of(me)}) imports {other} (layer {layer_of(other)})"
        for prefix, banned in FORBIDDEN.items():
            if me.startswith(prefix):
                assert not other.startswith(banned), f"{me} imports {other}"


def test_the_layer_table_catches_an_upward_import(tmp_path):
    # the checker itself: a cost module importing models would be reported
    assert layer_of("archspace.models.build") > layer_of("archspace.cost")
    assert layer_of("archspace.models.convert") > layer_of("archspace.checkpoint") > layer_of("archspace.models")
    fake = PACKAGE / "cost.py"
    assert "archspace.models" not in imported_modules(fake)
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from archspace.models import build_model\n")
    assert imported_modules(probe) == {"archspace.models"}


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, timeout=120, check=True)
    return set(out.stdout.split())


def test_count_and_cost_verb_never_import_torch():
    loaded = _modules_after("import archspace\narchspace.count(archspace.preset('vov3d_l'))")
    assert "archspace.cost" in loaded and "torch" not in loaded
    loaded = _modules_after(
        "from archspace.cli import main\nimport contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['cost', '--arch', 'vov3d_l', '--frames', '32']) == 0\n"
        "    assert main(['cost', '--arch', 'x3d_m', '--json']) == 0\n"
    )
    assert "archspace.genome_cli" in loaded
    assert not {"torch", "ray", "optuna", "pandas"} & loaded
