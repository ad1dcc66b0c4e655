"""Every benchmark script runs, on a tiny input, so none can silently break."""
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = sorted((Path(__file__).parent.parent / "bench").glob("*.py"))


def test_there_are_benchmarks():
    assert {p.name for p in BENCH} >= {"engine_overhead.py", "grow_scale.py", "sandbox_overhead.py"}


@pytest.mark.parametrize("script", BENCH, ids=lambda p: p.name)
def test_benchmark_runs_on_a_tiny_input(script):
    done = subprocess.run([sys.executable, str(script), "--tiny"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "x" in done.stdout  # every benchmark prints a ratio against its baseline
