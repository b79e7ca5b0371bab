"""Timeouts count the step's own time, and a timed-out attempt is retried like any other."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import flows


@pytest.fixture
def cpu_hogs() -> Iterator[None]:
    """Busy loops on every core, so a child's start-up is as slow as on a loaded machine."""
    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 2)
    ]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def test_a_timed_out_attempt_is_retried_and_each_reason_recorded(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOW_DIR", str(tmp_path))
    run = flows.flaky()
    step = run.steps["hangs_twice"]
    assert run.status == "completed"
    assert step.record.attempts == 3
    assert step.outputs["value"].load() == 3
    reasons = step.metadata["attempt_errors"]
    assert len(reasons) == 2
    for number, reason in enumerate(reasons, start=1):
        assert reason.startswith(f"attempt {number}: ")
        assert "timed out after 1s of the step's own time" in reason
    # What the hung attempts printed reached the step's log too.
    assert "attempt 1 hangs" in step.logs() and "attempt 2 hangs" in step.logs()


def test_a_step_well_under_its_limit_passes_beside_a_cpu_hog(home: Path, cpu_hogs: None) -> None:
    # A 0.3 s step with timeout=1: the child's interpreter start-up (0.5 s and more with
    # every core busy) is not counted against it.
    for seconds in (0.3, 0.31, 0.32):  # distinct parameters: each one really runs
        run = flows.napping(seconds=seconds)
        assert run.status == "completed"
        assert run.steps["naps"].cache_hit is False
        assert run.steps["naps"].record.attempts == 1
