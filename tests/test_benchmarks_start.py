"""Every benchmark starts as its usage line says, both ways, from the repository root: ``python -m
benchmarks.bench_x --help`` and ``python benchmarks/bench_x.py --help`` exit 0 (their imports run; nothing is
measured). The benchmarks themselves are not run here: they are benchmarks, not timed tests."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.stem for p in (ROOT / "benchmarks").glob("bench_*.py"))


def test_there_are_benchmarks():
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_usage_line_names_both_ways(name):
    doc = ast.get_docstring(ast.parse((ROOT / "benchmarks" / f"{name}.py").read_text())) or ""
    assert f"python -m benchmarks.{name}" in doc and f"python benchmarks/{name}.py" in doc


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_benchmark_starts_both_ways(name):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # as a user runs it, no path set
    ways = {"module": ["-m", f"benchmarks.{name}"], "file": [f"benchmarks/{name}.py"]}
    procs = {
        how: subprocess.Popen(
            [sys.executable, *cmd, "--help"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for how, cmd in ways.items()
    }
    for how, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{how}: {stderr}"
        assert stdout.startswith("usage:"), f"{how}: {stdout}"
