"""The step runner needs only the spec, the step name, store settings and input versions:
prove it by running a step in a fresh Python process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from headrace import Client
from headrace.home import resolve_settings
from headrace.runner.runs import finish_run, start_run
from headrace.runner.step_runner import run_step
from headrace.runner.stores import open_stores

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))
from quarterly import quarterly  # noqa: E402


def test_one_step_runs_in_a_subprocess_from_the_spec_alone(home: Path, tmp_path: Path) -> None:
    spec = quarterly.compile(n=400)
    settings = resolve_settings()
    stores = open_stores(settings)
    run_id = start_run(stores, spec)
    loaded = run_step(spec, "load_data", settings, run_id, {})

    task = {
        "spec": spec.to_dict(),
        "step": "split_by_quarter",
        "settings": settings.to_dict(),
        "run_id": run_id,
        "inputs": {"raw": loaded.outputs["raw"]},
    }
    task_file = tmp_path / "task.json"
    task_file.write_text(json.dumps(task))
    # A neutral working directory and no path to the examples: the child finds the
    # step's function from the file recorded in the spec.
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "headrace.runner", str(task_file)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result["outputs"]) == {"train", "test"}
    finish_run(stores, run_id, status="completed")

    run = Client().run(run_id)
    assert run.steps["split_by_quarter"].status == "completed"
    train = run.steps["split_by_quarter"].outputs["train"].load()
    assert set(train["date"].dt.quarter) == {1, 2, 3}
    assert run.steps["split_by_quarter"].inputs["raw"].id == loaded.outputs["raw"]


def test_a_bad_task_reports_a_clear_error(home: Path, tmp_path: Path) -> None:
    spec = quarterly.compile(n=100)
    settings = resolve_settings()
    run_id = start_run(open_stores(settings), spec)
    task = {
        "spec": spec.to_dict(),
        "step": "fit",
        "settings": settings.to_dict(),
        "run_id": run_id,
        "inputs": {"train": "0" * 32},
    }
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "headrace.runner", "-"],
        input=json.dumps(task),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "ArtifactNotFoundError" in proc.stdout
