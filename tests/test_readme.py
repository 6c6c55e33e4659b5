"""Every shell and Python block of README.md runs, in order, in a fresh folder, as a new
user would paste them: so the README cannot drift from the code.

Blocks are fenced ```sh, ```python, ```yaml or ```text (only sh and python run). An HTML
comment right above a block may say `<!-- readme-test: skip: REASON -->` (the block takes
minutes or needs files from elsewhere) or `<!-- readme-test: replace "A" -> "B"; ... -->`
(tiny settings for the test); both are visible in the README's source.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"(?:<!-- readme-test: (?P<mark>.*?) -->\n)?```(?P<lang>[^\n]*)\n(?P<body>.*?)^```$", re.S | re.M)
REPLACE = re.compile(r'"(.*?)" -> "(.*?)"')
LANGUAGES = ("sh", "python", "yaml", "text")


def readme_blocks() -> list[dict]:
    blocks = []
    for m in FENCE.finditer((REPO / "README.md").read_text()):
        line = (REPO / "README.md").read_text()[: m.start("body")].count("\n")
        blocks.append({"lang": m["lang"], "body": m["body"], "mark": m["mark"] or "", "line": line})
    return blocks


def test_every_block_says_what_it_is():
    blocks = readme_blocks()
    assert len(blocks) > 10
    unlabeled = [b["line"] for b in blocks if b["lang"] not in LANGUAGES]
    assert not unlabeled, f"README blocks at lines {unlabeled} need a language: {', '.join(LANGUAGES)}"
    for b in blocks:
        mark = b["mark"]
        assert not mark or mark.startswith("skip: ") or REPLACE.findall(mark), f"bad readme-test mark {mark!r}"
        for old, _ in REPLACE.findall(mark):
            assert old in b["body"], f"README line {b['line']}: {old!r} is not in the block it should shrink"


def _prepared(block: dict) -> str:
    body = block["body"]
    for old, new in REPLACE.findall(block["mark"]):
        body = body.replace(old, new)
    return body


def test_readme_blocks_run_in_order(tmp_path, archspace_training_command, python_training_command):
    """About a minute on two cores: tiny data, one-epoch trainings."""
    work = tmp_path / "clone"
    work.mkdir()
    for name in ("search_spaces", "experiments", "benchmarks"):
        (work / name).symlink_to(REPO / name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # `archspace` runs each command, and each Python block runs, in a fresh process forked
    # from one that imported torch once (tests/cli_forkserver.py): the same main() and the
    # same code as `python -c` would run, half the CPU of this test
    shim = " ".join(f'"{a}"' for a in archspace_training_command)
    (bin_dir / "archspace").write_text(f'#!/bin/sh\nexec {shim} "$@"\n')
    (bin_dir / "archspace").chmod(0o755)
    _run_blocks(tmp_path, work, bin_dir, python_training_command)


def _run_blocks(tmp_path: Path, work: Path, bin_dir: Path, python: list[str]) -> None:
    (work / ".venv" / "bin").mkdir(parents=True)
    (work / ".venv" / "bin" / "python").symlink_to(sys.executable)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", PYTHONPATH=str(REPO),
               ARCHSPACE_CACHE=str(tmp_path / "cache"))
    ran = 0
    for block in readme_blocks():
        if block["lang"] not in ("sh", "python") or block["mark"].startswith("skip: "):
            continue
        body = _prepared(block)
        command = ["bash", "-euo", "pipefail", "-c", body] if block["lang"] == "sh" else [*python, "-c", body]
        proc = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"README block at line {block['line']} failed:\n{body}\n{proc.stderr[-3000:]}"
        ran += 1
    assert ran >= 8
    assert (work / "runs" / "vov3d_m_synth" / "checkpoint.pt").is_file()
