"""A step task needs nothing but itself: the spec, the step's name, store settings and
the input artifact versions. Prove it by running step tasks in fresh Python processes
through the single-step entry point, ``python -m headrace.runner``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from headrace import Client
from headrace.hashing import cache_key
from headrace.home import resolve_settings
from headrace.runner import cache
from headrace.runner.runs import finish_run, start_run
from headrace.runner.task import StepTask
from headrace.spec.types import PipelineSpec
from headrace.store.stores import Stores, open_stores

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))
from quarterly import quarterly  # noqa: E402


def make_task(
    stores: Stores, spec: PipelineSpec, run_id: str, step: str, inputs: dict[str, str]
) -> StepTask:
    """What the scheduler hands an orchestrator: the step run exists, the key is known."""
    spec_step = spec.step(step)
    records = stores.metadata.get_artifact_versions_by_ids(inputs.values()) if inputs else {}
    parts = cache.components(spec_step, {k: records[v] for k, v in inputs.items()})
    step_run_id = uuid.uuid4().hex
    stores.metadata.create_step_run(
        step_run_id=step_run_id, run_id=run_id, name=step, started_at=time.time(), inputs=inputs
    )
    return StepTask(
        run_id=run_id,
        step_run_id=step_run_id,
        step=step,
        spec=spec.to_dict(),
        inputs=dict(inputs),
        settings=resolve_settings().to_dict(),
        cache_key=cache_key(parts),
        cache_components=parts,
        cache_reason="first run",
    )


def run_child(
    args: list[str], *, cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    # A neutral working directory and no path to the examples: the child finds the
    # step's function from the file recorded in the spec.
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "headrace.runner", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def test_step_tasks_run_in_subprocesses_from_the_task_alone(home: Path, tmp_path: Path) -> None:
    spec = quarterly.compile(n=400)
    stores = open_stores(resolve_settings())
    run_id = start_run(stores, spec)

    results: dict[str, Any] = {}
    for step, inputs in [("load_data", {}), ("split_by_quarter", None)]:
        if inputs is None:
            inputs = {"raw": results["load_data"]["outputs"]["raw"]}
        task_file = tmp_path / f"{step}.json"
        task_file.write_text(json.dumps(make_task(stores, spec, run_id, step, inputs).to_dict()))
        proc = run_child([str(task_file)], cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        results[step] = json.loads(proc.stdout.strip().splitlines()[-1])
        assert results[step]["status"] == "completed", results[step]
    assert set(results["split_by_quarter"]["outputs"]) == {"train", "test"}
    finish_run(stores, run_id, status="completed")

    run = Client().run(run_id)
    split = run.steps["split_by_quarter"]
    assert split.status == "completed" and not split.cache_hit
    assert set(split.outputs["train"].load()["date"].dt.quarter) == {1, 2, 3}
    assert split.inputs["raw"].id == results["load_data"]["outputs"]["raw"]


def test_a_task_whose_input_is_missing_reports_it_and_writes_a_result_file(
    home: Path, tmp_path: Path
) -> None:
    spec = quarterly.compile(n=100)
    stores = open_stores(resolve_settings())
    run_id = start_run(stores, spec)
    loaded = make_task(stores, spec, run_id, "load_data", {})
    task = {
        **make_task(stores, spec, run_id, "load_data", {}).to_dict(),
        "step": "fit",
        "inputs": {"train": "0" * 32},
        "step_run_id": loaded.step_run_id,
    }
    result_file = tmp_path / "result.json"
    proc = run_child(["--result", str(result_file), "-"], cwd=tmp_path, stdin=json.dumps(task))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(result_file.read_text())
    assert result["status"] == "failed"
    assert result["error_type"] == "ArtifactNotFoundError"
    assert "could not load its inputs" in result["error"]


def test_a_malformed_task_is_a_clear_error(tmp_path: Path) -> None:
    proc = run_child(["-"], cwd=tmp_path, stdin=json.dumps({"task_version": 99}))
    assert proc.returncode == 0
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["status"] == "failed"
    assert "step task version 99 is not supported" in result["error"]
