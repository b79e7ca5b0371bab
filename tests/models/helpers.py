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


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def cli_env(home: Path | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HEADRACE_") and k not in ("NO_COLOR", "PYTHONPATH")
    }
    env.update(PYTHONPATH=str(REPO / "src"), NO_COLOR="1", HEADRACE_USER="tester")
    if home is not None:
        env["HEADRACE_HOME"] = str(home)
    return env


def headrace(*args: str | Path, home: Path | None, timeout: float = 120) -> Result:
    """``python -m headrace.cli ARGS`` with HEADRACE_HOME=home."""
    done = subprocess.run(
        [sys.executable, "-m", "headrace.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=home.parent if home is not None else REPO,
        env=cli_env(home),
        timeout=timeout,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def assert_one_line_error(result: Result, code: int, *fragments: str) -> str:
    assert result.code == code, str(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), str(result)
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
