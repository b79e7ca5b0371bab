"""Every ```python block of docs/data.md runs, in order, as one script in a fresh home."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "data.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.S)


def test_the_page_has_examples_for_every_function() -> None:
    code = "\n".join(python_blocks())
    for name in (
        "time_split",
        "backtest",
        "infer_schema",
        "validate",
        "drift",
        "slice_metrics",
        "diff",
        "drift_step",
        "validate_step",
        "time_split_step",
    ):
        assert f"{name}(" in code, name


def test_docs_examples_run(tmp_path: Path) -> None:
    script = tmp_path / "data_md.py"
    script.write_text("\n\n".join(python_blocks()), encoding="utf-8")
    env = {
        **os.environ,
        "HEADRACE_HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(ROOT / "src"),
        "MPLBACKEND": "Agg",
    }
    done = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
