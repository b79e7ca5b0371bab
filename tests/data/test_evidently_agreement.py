"""Our drift verdicts equal those of Evidently's default DataDriftPreset on the same data.

Evidently needs pandas < 3, so it runs in its own virtualenv (bench/.venvs/evidently, made
by ``python bench/evidently/evidently_drift.py --setup``); without it these tests skip.
The same script also runs headrace's ``evidently`` flavor there. bench/bench_data.py
compares them on 1,000,000 rows.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import headrace.data as hd

from .frames import drift_pair

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "evidently" / "evidently_drift.py"
PYTHON = ROOT / "bench" / ".venvs" / "evidently" / "bin" / "python"

pytestmark = [
    pytest.mark.evidently,
    pytest.mark.slow,
    pytest.mark.skipif(not PYTHON.exists(), reason="no Evidently virtualenv (see module doc)"),
]

# (seed, reference rows, current rows): both sides of Evidently's 1,000-row switch.
CASES = [(0, 300, 300), (1, 800, 500), (3, 1001, 900)]


@pytest.fixture(scope="module")
def evidently_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:  # type: ignore[type-arg]
    folder = tmp_path_factory.mktemp("evidently")
    for seed, n, m in CASES:
        reference, current = drift_pair(seed, n, m)
        reference.to_parquet(folder / f"s{seed}.reference.parquet")
        current.to_parquet(folder / f"s{seed}.current.parquet")
    done = subprocess.run(
        [str(PYTHON), str(SCRIPT), "--with-headrace", str(folder)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    results: dict[str, dict] = json.loads(done.stdout)  # type: ignore[type-arg]
    return results


@pytest.mark.parametrize(("seed", "n", "m"), CASES)
def test_same_verdicts_and_scores_as_evidently(
    evidently_results: dict[str, dict],
    seed: int,
    n: int,
    m: int,  # type: ignore[type-arg]
) -> None:
    theirs = evidently_results[f"s{seed}"]
    ours = hd.drift(*drift_pair(seed, n, m))
    assert {c.column: c.drifted for c in ours.columns} == {
        name: column["drifted"] for name, column in theirs["columns"].items()
    }
    assert ours.dataset_drift == theirs["dataset_drift"]
    for column in ours.columns:
        their = theirs["columns"][column.column]
        assert column.threshold == pytest.approx(their["threshold"])
        assert column.score == pytest.approx(their["score"], rel=1e-6, abs=1e-12)


@pytest.mark.parametrize(("seed", "n", "m"), CASES)
def test_the_evidently_flavor_reports_evidently_s_verdicts(
    evidently_results: dict[str, dict],
    seed: int,
    n: int,
    m: int,  # type: ignore[type-arg]
) -> None:
    theirs = evidently_results[f"s{seed}"]
    flavor = theirs["headrace"]
    assert flavor["dataset_drift"] == theirs["dataset_drift"]
    for name, column in theirs["columns"].items():
        assert flavor["columns"][name]["drifted"] == column["drifted"]
        assert flavor["columns"][name]["score"] == pytest.approx(column["score"])
    ours = hd.drift(*drift_pair(seed, n, m))
    assert {c.column: c.method for c in ours.columns} == {
        name: column["method"] for name, column in flavor["columns"].items()
    }
