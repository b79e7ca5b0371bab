"""`headrace resume RUN`: through a real subprocess, after a failure and after a kill -9."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from headrace import Client

from . import flows
from .conftest import HERE, child_env, headrace, one_error_line

FLOW = str(HERE / "flows.py")


def _run_failing(home: Path, flow_dir: Path) -> str:
    (flow_dir / "fail").touch()
    done = headrace("run", f"{FLOW}:faulty", "--json", home=home, FLOW_DIR=str(flow_dir))
    assert done.code == 1, str(done)
    failed = json.loads(done.stdout)
    assert failed["status"] == "failed"
    return str(failed["id"])


def test_resume_a_failed_run_reuses_what_completed(home: Path, flow_dir: Path) -> None:
    failed = _run_failing(home, flow_dir)
    (flow_dir / "fail").unlink()
    done = headrace("resume", failed[:10], home=home, FLOW_DIR=str(flow_dir))
    assert done.code == 0, str(done)
    assert done.stderr == ""
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line.strip()}
    assert rows["produce"][1:3] == ["reused", "completed"]
    assert rows["transform"][1:3] == ["reran", "completed"]
    assert rows["report"][1:3] == ["reran", "completed"]
    assert f"resumes      run {failed[:12]} (failed" in done.stdout
    assert f"1 step reused from run {failed[:12]}, 2 reran" in done.stdout

    resumed = Client().runs(pipeline="faulty")[0]
    assert resumed.status == "completed" and resumed.origin_run_id == failed
    assert resumed.steps["produce"].outputs["values"].version == 1  # the same version
    assert resumed.steps["report"].outputs["report"].load() == flows.expected()["report"]


def test_resume_after_kill_9_prints_json(home: Path, flow_dir: Path) -> None:
    (flow_dir / "hold").touch()
    proc = subprocess.Popen(
        [sys.executable, "-m", "headrace.cli", "run", f"{FLOW}:faulty"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=child_env(home, FLOW_DIR=str(flow_dir)),
    )
    deadline = time.monotonic() + 60
    while not (flow_dir / "transform.started").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "transform never started"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (flow_dir / "hold").unlink()

    done = headrace("resume", "latest", "--json", home=home, FLOW_DIR=str(flow_dir))
    assert done.code == 0, str(done)
    report = json.loads(done.stdout)
    crashed = Client().runs(pipeline="faulty", status="crashed")[0]
    assert report["resumed_from"] == {"id": crashed.id, "status": "crashed"}
    assert report["origin_run_id"] == crashed.id
    assert report["status"] == "completed"
    assert report["reused"] == ["produce"]
    assert report["reran"] == ["transform", "report"]
    assert report["cache_hits"] == [] and report["not_run"] == []
    steps = {s["name"]: s for s in report["steps"]}
    assert steps["produce"]["cache_hit"] is True
    assert (
        steps["produce"]["outputs"]["values"]["id"] == crashed.steps["produce"].outputs["values"].id
    )
    assert crashed.steps["transform"].status == "crashed"
    resumed = Client().run(report["id"])
    np.testing.assert_array_equal(
        resumed.steps["transform"].outputs["scaled"].load(), flows.expected()["scaled"]
    )


def test_a_resume_that_fails_again_exits_1(home: Path, flow_dir: Path) -> None:
    failed = _run_failing(home, flow_dir)
    done = headrace("resume", failed, home=home, FLOW_DIR=str(flow_dir))
    line = one_error_line(done, 1)
    assert "step 'transform'" in line and "told to fail" in line
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line.strip()}
    assert rows["produce"][1] == "reused"
    assert rows["transform"][1:3] == ["reran", "failed"]
    assert rows["report"][1:3] == ["skipped", "skipped"]
    runs = Client().runs(pipeline="faulty")
    assert [r.status for r in runs] == ["failed", "failed"]
    assert runs[0].origin_run_id == failed


def test_bad_run_references(home: Path, flow_dir: Path) -> None:
    completed = headrace("run", f"{FLOW}:faulty", "--json", home=home, FLOW_DIR=str(flow_dir))
    assert completed.code == 0, str(completed)
    run_id = json.loads(completed.stdout)["id"]

    line = one_error_line(headrace("resume", run_id, home=home), 1)
    assert f"run {run_id[:12]} is completed" in line
    assert "only a failed, crashed or cancelled run can be resumed" in line
    assert "no run matches 'nope'" in one_error_line(headrace("resume", "nope", home=home), 1)
    assert "Missing argument 'RUN'" in one_error_line(headrace("resume", home=home), 2)
    assert "No such option" in one_error_line(headrace("resume", "--bogus", "x", home=home), 2)
    assert len(Client().runs()) == 1  # nothing was started
