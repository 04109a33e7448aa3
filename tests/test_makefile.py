"""The Makefile's targets name things that exist (dry runs: nothing is installed or run)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def dry_run(*args: str) -> str:
    result = subprocess.run(
        ["make", "-n", *args], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout


def test_make_bench_runs_every_benchmark_program_and_each_has_a_smoke_test() -> None:
    commands = dry_run("bench")
    named = set(re.findall(r"for name in ([\w ]+); do", commands)[0].split())
    programs = {
        path.stem
        for path in (REPO / "bench").glob("*.py")
        if '__name__ == "__main__"' in path.read_text()
    }
    assert named == programs and len(named) >= 4
    assert "-m bench.$name" in commands
    smoke = (REPO / "tests" / "test_bench_smoke.py").read_text()
    assert {name for name in named if f'"bench.{name}"' not in smoke} == set()


def test_make_run_uses_the_config_given_and_says_where_dropscribe_is() -> None:
    commands = dry_run("run", "CONFIG=/etc/dropscribe/config.toml")
    assert ".venv/bin/dropscribe run --config /etc/dropscribe/config.toml" in commands
    assert "/.venv/bin/dropscribe (not on the PATH)" in commands
    assert "--config config.example.toml" in dry_run("run")
