"""`import headrace.data` loads none of the heavy libraries its functions use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
HEAVY = ["pandas", "numpy", "scipy", "pandera", "fairlearn", "matplotlib", "sklearn", "pyarrow"]

SCRIPT = """
import json, sys
import headrace.data
import headrace.data.reports, headrace.data.errors, headrace.data._materializers
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(json.loads(sys.argv[1])))))
"""


def test_import_loads_no_heavy_library() -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    assert json.loads(done.stdout) == []
