"""A step with a timeout runs in a process of its own; killing the process that drives the
run (kill -9, the OOM killer) must not leave that step running unwatched."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from headrace import Client

from .conftest import HERE, child_env


def _alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped by init counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_step_process_dies_with_the_process_that_drives_its_run(
    home: Path, flow_dir: Path
) -> None:
    driver = subprocess.Popen(
        [sys.executable, "-m", "headrace.cli", "run", f"{HERE / 'flows.py'}:guarded_flow"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=child_env(home, FLOW_DIR=str(flow_dir)),
    )
    pid_file = flow_dir / "guarded.pid"
    deadline = time.monotonic() + 60
    while not pid_file.exists():
        assert driver.poll() is None and time.monotonic() < deadline, "the step never started"
        time.sleep(0.02)
    step_pid = int(pid_file.read_text())
    assert _alive(step_pid)
    driver.send_signal(signal.SIGKILL)
    driver.wait()

    deadline = time.monotonic() + 5
    while _alive(step_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(step_pid), "the step's process outlived the run's process"
    run = Client().runs(pipeline="guarded_flow")[0]
    assert run.status == "crashed"
    assert run.steps["guarded"].status == "crashed"
    assert run.steps["guarded"].record.outputs == {}
