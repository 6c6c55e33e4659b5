"""Mutation testing as a benchmark: how many small wrong versions of five modules the tests catch.

mutmut (the `mutation` extra) writes every mutant of a module (an operator, a number,
a comparison, an argument changed) and runs that module's own test files against each.
A mutant is killed when a test fails, survives when all pass. Not part of CI: a full
run takes tens of minutes on one core.

Prints one JSON object: per module, the test files used, mutants, killed, survived,
no_tests (no test calls the mutated function: counted as survived in the ratio),
timeout, suspicious, kill_ratio = killed / mutants, and every mutant not killed as
{"line", "status", "from", "to"} (the original line and the mutated one).

Each module runs in a copy of the repository (git's tracked and unignored files), so the
work tree is never touched. Two things make the count honest:
- mutmut skips decorated functions: plan.py's block builders (`@lru_cache(...)`),
  evaluate() and predict() (`@torch.no_grad()`), properties. In the copy, each such
  decorator line becomes a comment and `name = decorator(name)` (`Class.name = ...` for
  a method) is appended at the end of the file: the same functions, wrapped the same
  way, line numbers unchanged, and mutated like any other. (@staticmethod and
  @classmethod stay: mutmut mutates those.)
- Each mutant runs in a process forked from mutmut's fork server, which has only
  collected the tests (process_isolation = "forkserver"), so no cache filled by an
  earlier run leaks in; benchmarks/mutation_plugin.py empties archspace's caches before
  every test, so each test calls what it checks (and mutmut links it to those functions).

usage: python benchmarks/mutation.py [--module plan ...] [--keep DIR] [--check MODULE:MUTANT ...]
  --module  short names (plan, cost, evaluate, recipe, transforms); default: all five
  --keep    build the copies under DIR and leave them there
  --check transforms:x_normalise__mutmut_7 ...   (with --keep DIR of an earlier run)
            write each mutant (as `mutmut show` gives it) into its module in the copy, run
            the module's test files in a fresh `python -m pytest` process, put the module
            back, and print both verdicts
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Module -> the test files that own it (fast ones first: pytest stops at the first failure).
MODULES = {
    "plan": ("archspace/plan.py", ["tests/test_anchors.py", "tests/test_models.py", "tests/test_cost_reference.py",
                                   "tests/test_cost_property.py"]),
    "cost": ("archspace/cost.py", ["tests/test_cost_reference.py", "tests/test_cost_property.py"]),
    "evaluate": ("archspace/train/evaluate.py", ["tests/test_train_judges.py"]),
    "recipe": ("archspace/train/recipe.py", ["tests/test_train_judges.py", "tests/test_recipe.py"]),
    "transforms": ("archspace/data/transforms.py", ["tests/test_data_transforms.py"]),
}

# The property sweep checks 132 random genomes against fvcore (240 when the figures of
# benchmarks/mutation_results.md were measured): minutes on one core
# for every mutant that survives it. The benchmark takes the first cases of each of its
# tests instead: 22 cycle through every family x block x inter once (see _cases there).
SAMPLED = {"tests/test_cost_property.py": 22}
# cost.py's and plan.py's runs leave out the four fvcore runs on full-size presets (16 s of
# every surviving mutant's run, on a shared two-core machine): they judge the built network
# against the same stored figures that test_cost_reference's analytical tests compare the
# count with, and the sampled sweep still judges params, FLOPs and acts by fvcore.
FULL_SIZE_JUDGES = ["tests/test_cost_reference.py::test_fvcore_and_torch_agree_on_presets",
                    "tests/test_cost_reference.py::test_paper_convention_matches_fvcore_conv_linear_on_fixed_pool_head"]
DESELECTED = {"cost": FULL_SIZE_JUDGES, "plan": FULL_SIZE_JUDGES}


def copy_repository(dest: Path) -> None:
    """The work tree as git sees it: tracked files and untracked ones it does not ignore."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def undecorate(path: Path) -> list[str]:
    """Move function decorators to the end of the file, where they wrap the same functions
    (see the docstring). @staticmethod and @classmethod stay: mutmut handles those."""
    source = path.read_text()
    lines = source.splitlines()
    wrapped = []

    def move(fn: ast.FunctionDef, owner: str) -> None:
        names = [ast.get_source_segment(source, d) for d in fn.decorator_list]
        if not names or names in (["staticmethod"], ["classmethod"]):
            return
        for d in fn.decorator_list:
            for i in range(d.lineno - 1, d.end_lineno):
                lines[i] = "# " + lines[i] + ("  (applied at the end of the file)" if i == d.lineno - 1 else "")
        target = owner + fn.name
        wrapped.append(f"{target} = " + "".join(f"{n}(" for n in names) + target + ")" * len(names))

    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            move(node, "")
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    move(item, node.name + ".")
    if wrapped:
        path.write_text("\n".join(lines + ["", "", "# Decorators moved here by benchmarks/mutation.py"] + wrapped) + "\n")
    return wrapped


def select_tests(work: Path, tests: list[str]) -> list[str]:
    """The test files, with each file in SAMPLED cut to the first cases of each test."""
    selected = []
    for path in tests:
        if path not in SAMPLED:
            selected.append(path)
            continue
        listed = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", path],
                                cwd=work, env=dict(os.environ, PYTHONPATH=str(work)), check=True, capture_output=True,
                                text=True).stdout.splitlines()
        seen: dict[str, int] = {}
        for node in (line for line in listed if line.startswith(path + "::")):
            function = node.split("[")[0]
            seen[function] = seen.get(function, 0) + 1
            if seen[function] <= SAMPLED[path]:
                selected.append(node)
    return selected


def configure(work: Path, module: str, tests: list[str], deselected: list[str]) -> None:
    config = {
        "source_paths": ["archspace/"],
        "only_mutate": [module],
        "also_copy": ["experiments/"],  # recipes are read from the repository
        "pytest_add_cli_args_test_selection": tests,
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-p", "mutation_plugin"]
                               + [arg for node in deselected for arg in ("--deselect", node)],
        "process_isolation": "forkserver",
        "use_git_change_detection": False,
    }
    body = "\n".join(f"{key} = {json.dumps(value)}" for key, value in config.items())
    with open(work / "pyproject.toml", "a") as f:
        f.write(f"\n[tool.mutmut]\n{body}\n")


def run_mutmut(work: Path, log: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "benchmarks"))  # the plugin; never the original package
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", "1"], cwd=work, env=env,
                              stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise SystemExit(f"mutmut failed in {work} (exit {proc.returncode}); see {log}")
    return time.perf_counter() - start


def function_lines(source: str) -> dict[str, int]:
    """mutmut's mangled name (x_f, xǁClassǁmethod) -> line of its `def`."""
    lines = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines[f"x_{node.name}"] = node.lineno
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines[f"xǁ{node.name}ǁ{item.name}"] = item.lineno
    return lines


def mutant_diff(work: Path, name: str, source: str, defs: dict[str, int]) -> tuple[int, list[str], list[str]]:
    """(first line in the module, its lines as they were, as the mutant has them), from
    mutmut's diff of the mutant, with the module's own indentation."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant  # what `mutmut show` prints

    module = name.rpartition(".")[0].replace(".", "/") + ".py"
    with contextlib.chdir(work):
        diff = get_diff_for_mutant(name, path=Path(module)).splitlines()
    hunk = next(i for i, line in enumerate(diff) if line.startswith("@@"))
    start = int(re.match(r"@@ -(\d+)", diff[hunk]).group(1))
    body = diff[hunk + 1:]
    removed = [line[1:] for line in body if line.startswith("-")]
    added = [line[1:] for line in body if line.startswith("+")]
    offset = next(i for i, line in enumerate(line for line in body if not line.startswith("+")) if line.startswith("-"))
    mangled = name.rpartition(".")[2].partition("__mutmut_")[0]
    # mutmut's copy of the function may start with comment lines above the `def`: take the
    # line with this text nearest to where the hunk puts it.
    guess = defs[mangled] + start - 1 + offset
    lines = source.splitlines()
    line = min((i + 1 for i, text in enumerate(lines) if text.strip() == removed[0].strip()),
               key=lambda n: abs(n - guess))
    original = lines[line - 1]
    indent = " " * ((len(original) - len(original.lstrip())) - (len(removed[0]) - len(removed[0].lstrip())))
    return line, [indent + r for r in removed], [indent + a for a in added]


def locate(work: Path, name: str, source: str, defs: dict[str, int]) -> dict:
    """Line in the module and the changed line before/after."""
    line, removed, added = mutant_diff(work, name, source, defs)
    return {"line": line, "from": "\n".join(s.strip() for s in removed), "to": "\n".join(s.strip() for s in added)}


def results(work: Path, module: str) -> dict:
    from mutmut.stats import status_by_exit_code

    meta = json.loads((work / "mutants" / (module + ".meta")).read_text())
    statuses = {key: status_by_exit_code[code] for key, code in meta["exit_code_by_key"].items()}
    source = (work / module).read_text()
    defs = function_lines(source)
    counts = {s: sum(v == s for v in statuses.values()) for s in ("killed", "survived", "no tests", "timeout",
                                                                    "suspicious")}
    others = len(statuses) - sum(counts.values())
    not_killed = sorted(
        (dict(locate(work, key, source, defs), status=status, mutant=key.rpartition(".")[2])
         for key, status in statuses.items() if status != "killed"),
        key=lambda m: (m["line"], m["mutant"]),
    )
    return {
        "mutants": len(statuses),
        "killed": counts["killed"],
        "survived": counts["survived"],
        "no_tests": counts["no tests"],
        "timeout": counts["timeout"],
        "suspicious": counts["suspicious"],
        "other": others,
        "kill_ratio": round(counts["killed"] / len(statuses), 4) if statuses else None,
        "not_killed": not_killed,
    }


def measure(name: str, base: Path) -> dict:
    module, tests = MODULES[name]
    work = base / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    copy_repository(work)
    moved = undecorate(work / module)
    selected = select_tests(work, tests)
    configure(work, module, selected, DESELECTED.get(name, []))
    seconds = run_mutmut(work, base / f"{name}.log")
    sampled = {path: f"first {n} cases of each test" for path, n in SAMPLED.items() if path in tests}
    return {"module": module, "tests": tests, "sampled": sampled, "test_cases": len(selected), "deselected": DESELECTED.get(name, []), "decorators_moved": moved, "seconds": round(seconds, 1),
            **results(work, module)}


def check(base: Path, name: str, mutant: str) -> dict:
    """Write one mutant into the module of a kept copy, run the module's test files in a
    fresh process with plain pytest (no plugin, no fork server), and put the module back."""
    from mutmut.stats import status_by_exit_code

    module, tests = MODULES[name]
    work = base / name
    key = module[:-3].replace("/", ".") + "." + mutant
    meta = json.loads((work / "mutants" / (module + ".meta")).read_text())
    path = work / module
    original = path.read_text()
    line, removed, added = mutant_diff(work, key, original, function_lines(original))
    lines = original.splitlines()
    assert [x.strip() for x in lines[line - 1:line - 1 + len(removed)]] == [r.strip() for r in removed], mutant
    path.write_text("\n".join(lines[:line - 1] + added + lines[line - 1 + len(removed):]) + "\n")
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests], cwd=work,
                              env=dict(os.environ, PYTHONPATH=str(work)), capture_output=True, text=True)
    finally:
        path.write_text(original)
    return {"mutant": mutant, "line": line, "from": [r.strip() for r in removed], "to": [a.strip() for a in added],
            "mutmut": status_by_exit_code[meta["exit_code_by_key"][key]],
            "by_hand": "killed" if proc.returncode != 0 else "survived", "pytest": proc.stdout.strip().splitlines()[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", choices=list(MODULES), help="default: all five")
    parser.add_argument("--keep", type=Path, help="build the copies here and leave them")
    parser.add_argument("--check", nargs="+", metavar="MODULE:MUTANT",
                        help="with --keep, after a run: apply each mutant by hand and run its tests afresh")
    args = parser.parse_args()
    if args.check:
        if not args.keep:
            parser.error("--check needs --keep DIR (the copies of an earlier run)")
        checks = [check(args.keep.resolve(), *item.split(":", 1)) for item in args.check]
        print(json.dumps({"checks": checks}, indent=1, ensure_ascii=False))
        return
    names = args.module or list(MODULES)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        report = {name: measure(name, args.keep.resolve()) for name in names}
    else:
        with tempfile.TemporaryDirectory(prefix="archspace-mutation-") as tmp:
            report = {name: measure(name, Path(tmp)) for name in names}
    print(json.dumps({"tool": "mutmut", "modules": report}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
