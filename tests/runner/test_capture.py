"""Code defined where no file holds it (a notebook cell) is captured with the spec and
rebuilt in another process. The kernel itself is exercised in
tests/integration/test_notebook.py; here the session is a module built from text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from headrace.errors import DefinitionError
from headrace.runner.functions import load_source, resolve_function
from headrace.spec.types import FunctionRef, PipelineSpec

SRC = Path(__file__).resolve().parents[2] / "src"

SESSION = """\
import math
from pathlib import Path as P
from typing import Annotated
from headrace import pipeline, step

OFFSET = 10
NAMES = ("a", "b")

def helper(x):
    return x + OFFSET

def unused():
    return "never captured"

@step
def shift(x: int = 1) -> Annotated[int, "shifted"]:
    import json  # a local import is not a global
    return helper(x) + len(NAMES) + int(math.sqrt(4)) + len(json.dumps(str(P("."))))

@step
def uses_data(x: int = 1) -> Annotated[int, "y"]:
    return x + len(DATA)

@pipeline
def flow(x: int = 1):
    shift(x=x)
"""


def _session() -> object:
    """The session: code whose source lives in no file (only in the line cache)."""
    module = load_source(SESSION + f"\n# {os.getpid()} {id(object())}\n")
    module.DATA = [object()]  # type: ignore[attr-defined]  # made in the session
    return module


def test_a_step_is_captured_with_what_it_uses_and_nothing_else() -> None:
    session = _session()
    ref = session.shift.ref  # type: ignore[attr-defined]
    assert ref.source is not None
    text = ref.source
    assert "import math" in text and "from pathlib import Path as P" in text
    assert "from headrace import step" in text and "from typing import Annotated" in text
    assert "OFFSET = 10" in text and "NAMES = ('a', 'b')" in text
    assert "def helper(x):" in text and "@step\ndef shift" in text
    assert (
        "unused" not in text and "flow" not in text and "import json" not in text.split("@step")[0]
    )
    spec = session.flow.compile()  # type: ignore[attr-defined]
    assert spec.source is not None and "def flow(x: int = 1):" in (spec.source.source or "")
    again = PipelineSpec.from_dict(spec.to_dict())
    assert again.step("shift").function.source == text  # round-trips through JSON


def test_a_captured_step_runs_in_a_fresh_process() -> None:
    ref = _session().shift.ref  # type: ignore[attr-defined]
    code = (
        "import json, sys\n"
        "from headrace.runner.functions import resolve_function\n"
        "from headrace.spec.types import FunctionRef\n"
        "func = resolve_function(FunctionRef(**json.loads(sys.stdin.read())), step='shift')\n"
        "print(func(x=5))\n"
    )
    payload = {
        "module": ref.module,
        "qualname": ref.qualname,
        "file": ref.file,
        "source": ref.source,
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == 5 + 10 + 2 + 2 + len(json.dumps("."))


def test_a_global_that_cannot_be_captured_is_named_before_the_step_runs() -> None:
    ref = _session().uses_data.ref  # type: ignore[attr-defined]
    assert "# not captured: DATA (a list made in the session)" in (ref.source or "")
    elsewhere = FunctionRef("__main__", ref.qualname, "/no/such/cell.py", ref.source)
    with pytest.raises(DefinitionError, match=r"uses DATA \(a list made in the session\)"):
        resolve_function(elsewhere, step="uses_data")


def test_broken_captured_source_is_a_definition_error() -> None:
    bad = FunctionRef("__main__", "f", None, "def f(:\n    pass\n")
    with pytest.raises(DefinitionError, match="rebuilding the notebook code of this step failed"):
        resolve_function(bad, step="f")
