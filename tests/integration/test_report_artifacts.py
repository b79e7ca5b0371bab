"""A data report stored by one process loads in another that never imported headrace.data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import pytest

from headrace import Client, pipeline, step

pd = pytest.importorskip("pandas")
ROOT = Path(__file__).resolve().parents[2]


@step
def frames(
    seed: int = 0,
) -> tuple[Annotated[pd.DataFrame, "reference"], Annotated[pd.DataFrame, "current"]]:
    import numpy as np

    rng = np.random.default_rng(seed)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 500), "y": rng.normal(0, 1, 500)})
    current = pd.DataFrame({"x": rng.normal(2, 1, 500), "y": rng.normal(0, 1, 500)})
    return reference, current


def test_report_loads_in_a_fresh_process(home: Path) -> None:
    from headrace.data.steps import drift_step

    @pipeline
    def monitor() -> None:
        reference, current = frames()
        drift_step(reference, current)

    run = monitor()
    report = run.steps["drift_step"].outputs["drift_report"]
    warnings = run.steps["drift_step"].metadata["warnings"]
    assert warnings == ["data drift in 1 column(s): x"], warnings
    assert report.materializer == "headrace.data.drift_report"
    code = (
        "import sys\n"
        "from headrace import Client\n"
        "report = Client().artifact('drift_report').load()\n"
        "assert 'headrace.data' in sys.modules  # imported on demand by the loader\n"
        "print(type(report).__name__, sorted(report.drifted_columns))\n"
    )
    env = {**os.environ, "HEADRACE_HOME": str(home), "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["DriftReport", "['x']"]
    shown = subprocess.run(
        [sys.executable, "-m", "headrace.cli", "runs", "show", "latest"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    report_line = next(line for line in shown.stdout.splitlines() if "drift_report v1" in line)
    assert report_line.rstrip().endswith(Client().artifact("drift_report").metadata["verdict"])
    assert "warning: data drift in 1 column(s): x" in shown.stdout
