"""Step logs: captured in threads and processes, stored as the step runs, capped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from headrace import Client, StepError

from . import flows


@pytest.mark.parametrize("isolation", ["threads", "process"])
def test_what_a_step_prints_and_logs_is_kept(home: Path, isolation: str) -> None:
    run = flows.talking.with_options(orchestrator={"isolation": isolation})(lines=3)
    text = run.steps["chatty"].logs()
    assert "line 0\nline 1\nline 2\n" in text
    assert "to stderr" in text
    assert "WARNING tests.flows: logged at warning" in text.replace("runner.flows", "tests.flows")
    assert run.steps["chatty"].metadata["logs"]["truncated"] is False
    assert run.steps["chatty"].metadata["lines"] == 3


@pytest.mark.parametrize("isolation", ["threads", "process"])
def test_a_failing_step_keeps_what_it_printed(home: Path, isolation: str) -> None:
    with pytest.raises(StepError, match="boom") as info:
        flows.failing.with_options(orchestrator={"isolation": isolation})()
    step = Client().run(info.value.run_id or "").steps["explode"]
    assert step.status == "failed"
    assert "about to fail" in step.logs() and "a warning before failing" in step.logs()
    assert isinstance(info.value.__cause__, Exception)
    if isolation == "threads":
        assert isinstance(info.value.__cause__, ValueError)  # the user's own exception
    else:
        assert "ValueError: boom" in str(info.value.__cause__)  # its remote traceback


def test_a_step_killed_by_its_timeout_keeps_its_log(home: Path) -> None:
    with pytest.raises(StepError, match="timed out after 1s") as info:
        flows.sleepy()
    step = Client().run(info.value.run_id or "").steps["sleeps"]
    assert step.status == "failed"
    assert "going to sleep" in step.logs()
    assert "timed out after 1s of the step's own time" in step.logs()


def test_a_print_flood_is_capped_and_the_run_unharmed(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = flows.flooding.with_options(orchestrator={"isolation": "threads"})(megabytes=50)
    capsys.readouterr()  # the terminal got the flood; drop it
    step = run.steps["flood"]
    assert run.status == "completed" and step.outputs["count"].load() == 50
    summary = step.metadata["logs"]
    assert summary["truncated"] is True
    assert summary["bytes"] == summary["cap_bytes"] == 10 * 1024 * 1024
    assert summary["dropped_bytes"] == 50 * 1024 * 1024 - summary["cap_bytes"]
    assert len(step.logs()) == summary["cap_bytes"]


def test_runs_logs_on_the_command_line(home: Path) -> None:
    run = flows.talking(lines=2)
    done = subprocess.run(
        [sys.executable, "-m", "headrace.cli", "runs", "logs", run.id[:10], "chatty"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "line 0\nline 1\n" in done.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "headrace.cli", "runs", "logs", run.id[:10], "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2
    assert "has no step 'nope'" in missing.stderr
