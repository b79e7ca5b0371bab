"""Run the command line in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "quarterly.py"

TINY = """\
from typing import Annotated

from headrace import pipeline, step


@step
def make(n: int = 3) -> Annotated[list[int], "numbers"]:
    return list(range(n))


@step
def double(numbers: list[int], factor: int = 2) -> Annotated[list[int], "doubled"]:
    return [factor * x for x in numbers]


@step
def explode(numbers: list[int]) -> Annotated[int, "never"]:
    raise ValueError("boom in explode")


@pipeline
def tiny(n: int = 3, label: str = "x") -> None:
    double(make(n=n))


@pipeline
def broken(n: int = 3) -> None:
    explode(make(n=n))


helper = 42
"""


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def headrace(
    *args: str | Path,
    home: Path | None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 180,
) -> Result:
    """``python -m headrace.cli ARGS`` with HEADRACE_HOME=home (unset when None)."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if (not k.startswith("HEADRACE_") or k == "HEADRACE_CACHE_DIR")
        and k not in ("NO_COLOR", "PYTHONPATH")
    }
    environ["PYTHONPATH"] = str(REPO / "src")
    environ["NO_COLOR"] = "1"
    environ["PYTHONIOENCODING"] = "utf-8"
    if home is not None:
        environ["HEADRACE_HOME"] = str(home)
    environ.update(env or {})
    done = subprocess.run(
        [sys.executable, "-m", "headrace.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or (home.parent if home is not None else REPO),
        env=environ,
        timeout=timeout,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def assert_one_line_error(result: Result, code: int, *fragments: str) -> str:
    """Exit ``code``, exactly one line on stderr (no traceback) holding every fragment."""
    assert result.code == code, str(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, str(result)
    assert "Traceback" not in result.stderr
    line = lines[0]
    assert line.startswith("Error: "), line
    for fragment in fragments:
        assert fragment in line, line
    return line


def tree_of(folder: Path) -> dict[str, int]:
    """Every file below ``folder`` with its size: a cheap 'was anything written' check."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}
