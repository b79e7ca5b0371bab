"""Steps and pipelines defined in notebook cells: run a real notebook in a real kernel,
twice, and see the cache hold across kernel restarts and break on a changed cell."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

SRC = str(Path(__file__).resolve().parents[2] / "src")

STEPS_CELL = """\
from typing import Annotated
from headrace import pipeline, step

@step
def numbers(n: int = 10) -> Annotated[list, "numbers"]:
    return list(range(n))

@step
def total(numbers: list) -> Annotated[int, "total"]:
    return sum(numbers) {extra}
"""

PIPELINE_CELL = """\
@pipeline
def notebook_flow(n: int = 10):
    total(numbers(n=n))
"""

RUN_CELL = """\
import json
run = notebook_flow()
print(json.dumps({name: [s.cache_hit, s.cache_reason] for name, s in run.steps.items()}
                 | {"value": run.steps["total"].outputs["total"].load()}))
"""


def _execute(tmp_path: Path, extra: str = "") -> dict[str, object]:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(STEPS_CELL.format(extra=extra)),
        nbformat.v4.new_code_cell(PIPELINE_CELL),
        nbformat.v4.new_code_cell(RUN_CELL),
    ]
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = nb.cells[2].outputs
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    return json.loads(text.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_notebook_steps_cache_across_kernel_restarts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADRACE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYTHONPATH", SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    first = _execute(tmp_path)
    assert first["value"] == 45
    assert first["numbers"] == [False, "no earlier run of this step"]

    second = _execute(tmp_path)  # a new kernel: same cells, so the same fingerprints
    assert second["numbers"][0] is True  # type: ignore[index]
    assert second["total"][0] is True  # type: ignore[index]

    changed = _execute(tmp_path, extra="* 2")  # the cell's function changed
    assert changed["numbers"][0] is True  # type: ignore[index]
    assert changed["total"] == [False, "code changed"]
    assert changed["value"] == 90
