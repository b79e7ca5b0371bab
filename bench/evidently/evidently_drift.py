"""Evidently's verdicts on drift, computed in Evidently's own virtualenv, printed as JSON.

    python bench/evidently/evidently_drift.py --setup              # create bench/.venvs/evidently
    python bench/evidently/evidently_drift.py DIR                  # every DIR/NAME.reference.parquet
                                                                   # with DIR/NAME.current.parquet
    python bench/evidently/evidently_drift.py --with-headrace DIR  # and through
                                                                   # headrace.data.drift(flavor="evidently")

Any Python may start it: it re-runs itself with the virtualenv's interpreter. For each
pair it runs Evidently's default ``DataDriftPreset`` and prints
``{NAME: {"seconds": s, "dataset_drift": b, "columns": {column: {"drifted": b,
"method": m, "score": x, "threshold": t}}}}``, with ``--with-headrace`` also the same
under ``"headrace"`` as computed by headrace's ``evidently`` drift flavor.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENV = HERE.parent / ".venvs" / "evidently"
PYTHON = VENV / "bin" / "python"


def setup() -> None:
    """Create the virtualenv and install bench/evidently/requirements.txt into it."""
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "--quiet", "-r", str(HERE / "requirements.txt")],
        check=True,
    )


def inside_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def evidently_verdicts(reference, current) -> dict:  # type: ignore[no-untyped-def]
    """Per-column verdicts of Evidently's DataDriftPreset, read from Evidently's own table."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    table = None
    # The preset renders its per-column table from this legacy result (pinned evidently 0.7).
    for result, _widgets in snapshot.context._legacy_metrics.values():
        if hasattr(result, "drift_by_columns"):
            table = result
    if table is None:
        raise SystemExit("evidently produced no per-column drift table")
    columns = {
        name: {
            "drifted": bool(col.drift_detected),
            "method": col.stattest_name,
            "score": float(col.drift_score),
            "threshold": float(col.stattest_threshold),
        }
        for name, col in table.drift_by_columns.items()
    }
    count = next(
        m["value"]["count"]
        for m in snapshot.dict()["metrics"]
        if str(m["config"].get("type", "")).endswith("DriftedColumnsCount")
    )
    assert int(count) == sum(c["drifted"] for c in columns.values()), "inconsistent evidently"
    return {"dataset_drift": bool(table.dataset_drift), "columns": columns}


def headrace_verdicts(reference, current) -> dict:  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT / "src"))
    import headrace.data as hd

    report = hd.drift(reference, current, flavor="evidently")
    return {
        "dataset_drift": report.dataset_drift,
        "columns": {
            c.column: {
                "drifted": c.drifted,
                "method": c.method,
                "score": c.score,
                "threshold": c.threshold,
            }
            for c in report.columns
        },
    }


def main(argv: list[str]) -> int:
    if "--setup" in argv:
        setup()
        argv = [a for a in argv if a != "--setup"]
        if not argv:
            return 0
    if not inside_venv():
        if not PYTHON.exists():
            print(f"no Evidently virtualenv at {VENV}; run with --setup first", file=sys.stderr)
            return 2
        os.execv(str(PYTHON), [str(PYTHON), str(Path(__file__).resolve()), *argv])
    os.environ.setdefault("DO_NOT_TRACK", "1")
    import warnings

    import pandas as pd

    warnings.simplefilter("ignore")  # Evidently's deprecation chatter would pollute stdout
    with_headrace = "--with-headrace" in argv
    folders = [Path(a) for a in argv if not a.startswith("--")]
    if len(folders) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    import evidently

    out: dict = {"_versions": {"evidently": evidently.__version__, "pandas": pd.__version__}}
    for reference_path in sorted(folders[0].glob("*.reference.parquet")):
        name = reference_path.name.removesuffix(".reference.parquet")
        reference = pd.read_parquet(reference_path)
        current = pd.read_parquet(reference_path.with_name(f"{name}.current.parquet"))
        started = time.perf_counter()
        result = evidently_verdicts(reference, current)
        result["seconds"] = time.perf_counter() - started
        if with_headrace:
            result["headrace"] = headrace_verdicts(reference, current)
        out[name] = result
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
