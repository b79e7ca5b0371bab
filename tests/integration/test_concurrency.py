"""Many processes running pipelines against one store at once: nothing lost, no lock errors.
(The long version, 32-64 processes, lives in bench/; these are the short CI versions.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from headrace import Client
from headrace.home import StoreSettings

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"
PROCESSES, RUNS = 8, 5


def _run_workers(env: dict[str, str]) -> list[tuple[str, int, int]]:
    procs = [
        subprocess.Popen(
            [sys.executable, str(HERE / "concurrent_flow.py"), str(w), str(RUNS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for w in range(PROCESSES)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "locked" not in err.lower()
        for line in out.splitlines():
            run_id, seed, value = line.split()
            results.append((run_id, int(seed), int(value)))
    return results


def _check(client: Client, results: list[tuple[str, int, int]]) -> None:
    assert len(results) == PROCESSES * RUNS
    assert len({r[0] for r in results}) == PROCESSES * RUNS
    runs = client.runs(pipeline="concurrent")
    assert len(runs) == PROCESSES * RUNS
    assert all(r.status == "completed" for r in runs)
    for run_id, seed, value in results:
        run = client.run(run_id)
        assert run.parameters == {"seed": seed}
        assert run.steps["total"].outputs["total"].load() == value
    versions = [a.version for a in client.artifacts(name="total")]
    assert sorted(versions) == list(range(1, len(versions) + 1))  # no gaps, no duplicates


def test_eight_processes_on_one_sqlite_store(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "HEADRACE_HOME": str(home), "PYTHONPATH": str(SRC)}
    env.pop("HEADRACE_METADATA_URL", None)
    results = _run_workers(env)
    client = Client(home=home)
    _check(client, results)


@pytest.mark.postgres
def test_eight_processes_on_one_postgres_store(tmp_path: Path, postgres_url: str) -> None:
    home = tmp_path / "home"
    env = {
        **os.environ,
        "HEADRACE_HOME": str(home),
        "PYTHONPATH": str(SRC),
        "HEADRACE_METADATA_URL": postgres_url,
    }
    results = _run_workers(env)
    client = Client(
        settings=StoreSettings(metadata_url=postgres_url, artifact_uri=str(home / "artifacts"))
    )
    _check(client, results)
