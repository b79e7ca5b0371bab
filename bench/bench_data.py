"""Benchmark of headrace.data: drift and validate on 1,000,000 rows x 20 columns, and
drift side by side with Evidently's DataDriftPreset (speed ratio and verdict agreement).

    PYTHONPATH=src .venv/bin/python bench/bench_data.py
    PYTHONPATH=src .venv/bin/python bench/bench_data.py --rows 100000 --no-evidently

The Evidently side runs in its own virtualenv (Evidently needs pandas < 3); create it once
with ``python bench/evidently/evidently_drift.py --setup``. Times are the median of
``--repeat`` runs after one warm-up run (imports excluded); Evidently's is the time of its
report on the same data, read from the same Parquet files.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import headrace.data as hd

HERE = Path(__file__).resolve().parent
EVIDENTLY_SCRIPT = HERE / "evidently" / "evidently_drift.py"
EVIDENTLY_PYTHON = HERE / ".venvs" / "evidently" / "bin" / "python"

SHIFTED = {"num_00", "num_01", "num_02", "num_03", "cat_00", "cat_01", "bin_00"}


def make_frames(rows: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current data, 20 columns; drift injected in exactly SHIFTED."""
    rng = np.random.default_rng(seed)

    def frame(current: bool) -> pd.DataFrame:
        columns: dict[str, Any] = {}
        for i in range(12):
            name = f"num_{i:02d}"
            shift = 0.5 if current and name in SHIFTED else 0.0
            scale = 1.5 if current and name == "num_03" else 1.0
            columns[name] = rng.normal(shift, scale, rows)
        for i in range(2):
            columns[f"int_{i:02d}"] = rng.integers(0, 1000, rows)
        categories = np.array(["north", "south", "east", "west", "centre"])
        for i in range(4):
            name = f"cat_{i:02d}"
            p = [0.5, 0.2, 0.1, 0.1, 0.1] if current and name in SHIFTED else None
            columns[name] = pd.Categorical(rng.choice(categories, rows, p=p), categories=categories)
        for i in range(2):
            name = f"bin_{i:02d}"
            p = [0.75, 0.25] if current and name in SHIFTED else [0.5, 0.5]
            columns[name] = rng.choice(np.array(["yes", "no"], dtype=object), rows, p=p)
        return pd.DataFrame(columns)

    return frame(False), frame(True)


CPU: dict[str, float] = {}


def timed(function: Callable[[], Any], repeat: int, label: str = "") -> tuple[float, Any]:
    """Median wall time of ``repeat`` runs after a warm-up; CPU time (all threads) in CPU."""
    result = function()  # warm-up: imports and caches
    times, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = function()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    if label:
        CPU[label] = statistics.median(cpu)
    return statistics.median(times), result


def evidently(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, Any] | None:
    if not EVIDENTLY_PYTHON.exists():
        print("(no Evidently virtualenv: run python bench/evidently/evidently_drift.py --setup)")
        return None
    with tempfile.TemporaryDirectory() as folder:
        reference.to_parquet(Path(folder) / "bench.reference.parquet")
        current.to_parquet(Path(folder) / "bench.current.parquet")
        done = subprocess.run(
            [str(EVIDENTLY_PYTHON), str(EVIDENTLY_SCRIPT), folder],
            check=True,
            capture_output=True,
            text=True,
        )
    output: dict[str, Any] = json.loads(done.stdout)
    result: dict[str, Any] = output["bench"]
    result["versions"] = output["_versions"]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-evidently", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    started = time.perf_counter()
    reference, current = make_frames(args.rows)
    print(
        f"data: {args.rows:,} rows x {reference.shape[1]} columns, reference and current "
        f"({time.perf_counter() - started:.1f} s to generate)"
    )
    results: dict[str, Any] = {"rows": args.rows, "columns": reference.shape[1]}

    drift_seconds, report = timed(lambda: hd.drift(reference, current), args.repeat, "drift")
    wrong = set(report.drifted_columns) ^ SHIFTED
    print(
        f"drift:    {drift_seconds:6.2f} s (CPU {CPU['drift']:.2f} s) "
        f"drifted {sorted(report.drifted_columns)}"
        f"{'' if not wrong else f'  UNEXPECTED {sorted(wrong)}'}"
    )
    results["drift_seconds"] = drift_seconds
    results["drift_expected_columns"] = not wrong

    test_seconds, _ = timed(
        lambda: hd.drift(reference, current, method="test"), args.repeat, "drift_test"
    )
    print(
        f"drift (method='test', KS/chi2 verdicts): {test_seconds:6.2f} s "
        f"(CPU {CPU['drift_test']:.2f} s)"
    )
    results["drift_test_method_seconds"] = test_seconds

    schema_seconds, schema = timed(lambda: hd.infer_schema(reference), args.repeat)
    corrupted = current.copy()
    bad_rows = np.random.default_rng(3).choice(
        args.rows, size=max(args.rows // 1000, 1), replace=False
    )
    corrupted.loc[bad_rows, "num_05"] = 1e6
    validate_seconds, validation = timed(
        lambda: hd.validate(corrupted, schema), args.repeat, "validate"
    )
    found = set(validation.failing_rows)
    print(f"infer_schema: {schema_seconds:6.2f} s")
    print(
        f"validate: {validate_seconds:6.2f} s (CPU {CPU['validate']:.2f} s)  "
        f"{validation.n_failing_rows:,} failing rows, "
        f"{len(validation.failed_checks)} failed checks "
        f"(all {len(bad_rows):,} corrupted rows found: {found >= set(bad_rows.tolist())})"
    )
    results["infer_schema_seconds"] = schema_seconds
    results["validate_seconds"] = validate_seconds
    results["cpu_seconds"] = dict(CPU)

    if not args.no_evidently:
        theirs = evidently(reference, current)
        if theirs is not None:
            ours = {c.column: c.drifted for c in report.columns}
            same = sum(
                ours[name] == column["drifted"] for name, column in theirs["columns"].items()
            )
            total = len(theirs["columns"])
            gaps = [
                abs(report[name].score - column["score"]) / max(abs(column["score"]), 1e-12)
                for name, column in theirs["columns"].items()
                if report[name].score is not None
            ]
            pairs = {
                (report[name].method, column["method"])
                for name, column in theirs["columns"].items()
            }
            print(f"largest relative score difference {max(gaps):.1e}; methods {sorted(pairs)}")
            results["max_relative_score_difference"] = max(gaps)
            ratio = theirs["seconds"] / drift_seconds
            print(
                f"evidently {theirs['versions']['evidently']} (pandas {theirs['versions']['pandas']}): "
                f"{theirs['seconds']:6.2f} s = {ratio:.1f}x headrace; verdicts agree on "
                f"{same}/{total} columns; dataset drift {theirs['dataset_drift']} vs "
                f"{report.dataset_drift}"
            )
            results.update(
                evidently_seconds=theirs["seconds"],
                evidently_ratio=ratio,
                verdict_agreement=f"{same}/{total}",
                dataset_verdict_agrees=theirs["dataset_drift"] == report.dataset_drift,
                evidently_version=theirs["versions"]["evidently"],
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
