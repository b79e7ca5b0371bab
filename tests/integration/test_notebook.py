"""Steps and pipelines defined in notebook cells: run a real notebook in a real kernel,
twice, and see the cache hold across kernel restarts and break on a changed cell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


# -- resume, reproduce and separate processes, from outside the notebook -----------------

HELPERS_CELL = """\
from pathlib import Path
from typing import Annotated
from headrace import StepError, pipeline, step

SCALE = 3

def scaled(values):
    return [v * SCALE for v in values]
"""

FLOW_CELLS = [
    """\
@step
def numbers(n: int = 5) -> Annotated[list, "numbers"]:
    return list(range(n))

@step(timeout=120)  # runs in its own process, rebuilt from the captured cell source
def total(numbers: list) -> Annotated[int, "total"]:
    import os
    Path(FLAG).with_name("total.pid").write_text(str(os.getpid()))
    return sum(scaled(numbers))

@step
def report(total: int, flag: str) -> Annotated[str, "report"]:
    if not Path(flag).exists():
        raise RuntimeError(f"{flag} is missing")
    return f"total={total}"
""",
    """\
@pipeline
def notebook_flow(flag: str, n: int = 5):
    report(total(numbers(n=n)), flag=flag)
""",
    """\
import json, os
try:
    notebook_flow(flag=FLAG)
except StepError as exc:
    print(json.dumps({"run_id": exc.run_id, "error": str(exc), "pid": os.getpid()}))
""",
]


def _run_notebook(cells: list[str], folder: Path) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    client = nbclient.NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    client.execute()
    outputs = nb.cells[-1].outputs
    return "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "headrace.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=300,
    )


def test_a_notebook_run_resumes_and_reproduces_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADRACE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYTHONPATH", SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    flag = tmp_path / "ready"
    notebook = tmp_path / "notebook"
    notebook.mkdir()
    cells = [HELPERS_CELL + f"FLAG = {str(flag)!r}\n", *FLOW_CELLS]
    printed = json.loads(_run_notebook(cells, notebook).strip().splitlines()[-1])
    assert "RuntimeError" in printed["error"] and "is missing" in printed["error"]
    failed_id = printed["run_id"]
    # The timeout step ran in a process of its own, not in the kernel.
    assert int((tmp_path / "total.pid").read_text()) != printed["pid"]

    elsewhere = tmp_path / "elsewhere"  # not the notebook's folder, no notebook kernel
    elsewhere.mkdir()
    flag.touch()
    resumed = _cli("resume", failed_id, "--json", cwd=elsewhere)
    assert resumed.returncode == 0, resumed.stderr
    outcome = json.loads(resumed.stdout)
    assert outcome["status"] == "completed"
    assert outcome["reused"] == ["numbers", "total"]
    assert outcome["reran"] == ["report"]

    from headrace import Client

    new_run = Client().run(outcome["id"])
    assert new_run.steps["report"].outputs["report"].load() == "total=30"
    source = new_run.environment["source"]
    assert source["file"] == "notebook_flow.py" and source["captured"] is True
    assert "def scaled(values):" in source["text"] and "SCALE = 3" in source["text"]
    assert "notebook_flow(flag=FLAG)" not in source["text"]  # never the running cell

    reproduced = _cli("reproduce", new_run.id, "--json", "--dir", "repro", cwd=elsewhere)
    assert reproduced.returncode == 0, reproduced.stdout + reproduced.stderr
    report = json.loads(reproduced.stdout)
    assert report["identical"] is True
    assert report["source"]["status"] == "same" and report["source"]["captured"] is True
    assert {s["name"]: s["status"] for s in report["steps"]} == {
        "numbers": "identical",
        "total": "identical",
        "report": "identical",
    }
    # The rebuilt steps declare exactly what the notebook's did (types, not their text).
    rerun = Client().run(report["rerun_id"])

    def outputs(run: object) -> list[object]:
        return [s["outputs"] for s in run.record.spec["steps"]]  # type: ignore[attr-defined]

    assert outputs(rerun) == outputs(new_run)
    assert outputs(rerun)[-1] == [{"name": "report", "type": "builtins.str", "materializer": None}]
    # The captured pipeline module is written out, and runs as a plain script would.
    assert (elsewhere / "repro" / "source" / "notebook_flow.py").is_file()


# -- docs/notebooks.md, as a user would follow it -------------------------------------------

DOCS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "notebooks.md"


def test_the_notebooks_page_runs_in_a_kernel_then_in_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re
    import shlex

    text = DOCS_PAGE.read_text(encoding="utf-8")
    cells = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    commands = [
        line
        for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S)
        for line in block.splitlines()
        if line.strip()
    ]
    assert len(cells) == 3 and commands[0] == "touch ready"
    monkeypatch.setenv("HEADRACE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYTHONPATH", SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    printed = _run_notebook(cells, tmp_path)
    assert "failed" in printed and "does not exist yet" in printed, printed

    for command in commands:
        words = shlex.split(command)
        if words[0] == "touch":
            (tmp_path / words[1]).touch()
            continue
        assert words[0] == "headrace"
        done = _cli(*words[1:], cwd=tmp_path)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        if words[1] == "resume":
            assert "2 steps reused" in done.stdout and "1 reran" in done.stdout, done.stdout
        if words[1] == "env":
            assert "# environment of headrace run" in done.stdout

    from headrace import Client

    reproduction = Client().runs()[0]
    assert reproduction.status == "completed"
    assert (tmp_path / "repro" / "source" / "notebook_flow.py").is_file()
    history = reproduction.steps["total"].metrics()["running_total"]
    assert [p.value for p in history] == [0, 3, 9, 18, 30]
