"""`import headrace.materializers`, and storing builtins, load no heavy library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import headrace.materializers

HEAVY = ["numpy", "pandas", "pyarrow", "sklearn", "matplotlib", "pydantic", "joblib", "cloudpickle"]

SCRIPT = """
import json, sys, tempfile
from pathlib import Path
heavy = json.loads(sys.argv[1])
import headrace.materializers as m
from headrace.errors import MaterializerError
after_import = sorted(h for h in heavy if h in sys.modules)
scratch = tempfile.TemporaryDirectory()
folder = Path(scratch.name)
values = [{"a": (1, 2.5, float("nan"))}, b"bytes", m.HTMLString("<p/>"), [None, True, "x"]]
for i, value in enumerate(values):
    chosen = m.select(value)
    meta = m.save(value, folder / str(i), chosen)
    m.load(folder / str(i), chosen.name, meta["type"])
try:
    m.select(object())
except MaterializerError:
    pass
m.get("pandas"), m.get("numpy"), m.get("sklearn")
after_use = sorted(h for h in heavy if h in sys.modules)
scratch.cleanup()
print(json.dumps([after_import, after_use]))
"""


def test_import_and_builtin_values_stay_light() -> None:
    src = Path(headrace.materializers.__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    after_import, after_use = json.loads(result.stdout.strip().splitlines()[-1])
    assert after_import == []
    assert after_use == []
