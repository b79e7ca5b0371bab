"""The demo that `scripts/demo` runs: it completes, explains itself, and caches the second time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_twice_and_hits_the_cache(tmp_path: Path) -> None:
    env = {**os.environ, "HEADRACE_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT / "src")}
    first = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert first.returncode == 0, first.stderr
    assert "status=completed" in first.stdout
    assert "lineage of model v1" in first.stdout
    assert "Try next" in first.stdout
    # The data-centric story: the Q4 price change is found, the model ages, regions differ.
    assert "validation of raw data: passed" in first.stdout
    assert "drift in 1 of 5 columns (monthly_spend)" in first.stdout
    assert first.stdout.count("train rows") == 3
    assert "Q4 accuracy by region: east" in first.stdout
    second = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 0, second.stderr
    step_lines = [line for line in second.stdout.splitlines() if "-> " in line]
    assert len(step_lines) == 8
    assert all("cache hit" in line for line in step_lines)
