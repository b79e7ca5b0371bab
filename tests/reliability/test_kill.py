"""A short kill -9 campaign (bench/kill_harness.py --kills 8): no broken promise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import REPO, child_env

KILLS = 8


def test_eight_kills_break_no_promise(tmp_path: Path) -> None:
    report_path = tmp_path / "kill.json"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "kill_harness.py"),
            "--kills",
            str(KILLS),
            "--rows",
            "8000",
            "--resumes",
            "1",
            "--seed",
            "11",
            "--quiet",
            "--workdir",
            str(tmp_path / "work"),
            "--json",
            str(report_path),
        ],
        capture_output=True,
        text=True,
        env=child_env(tmp_path / "unused-home"),
        timeout=300,
    )
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert report["invariant_violations"] == 0, report["violations"]
    assert report["kills"] == KILLS
    assert sum(report["outcomes"].values()) == KILLS
    assert report["outcomes"]["crashed"] >= 1
    # Every kill was a real SIGKILL, or the run was already over.
    killed = sum(report["killed_by"].values())
    assert killed + report["exited_before_the_kill"] + report["kill_point_not_reached"] == KILLS
    assert report["killed_by"]["after-step-commit"] >= 1  # the last kill, always
    # The newest crashed run resumed, reusing what finished and rerunning the rest.
    assert report["resumes"] == {
        "attempted": 1,
        "ok": 1,
        "steps_reused": report["resumes"]["steps_reused"],
        "steps_rerun": report["resumes"]["steps_rerun"],
    }
    assert report["resumes"]["steps_reused"] >= 1 and report["resumes"]["steps_rerun"] >= 1
    assert report["steps_verified"] >= 1 and report["outputs_verified"] >= 1
    assert report["gc"]["temp_removed"] == report["garbage_before_gc"]["temp_files"]
