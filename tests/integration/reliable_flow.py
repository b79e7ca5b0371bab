"""Pipelines for the crash, resume, timeout and cancel tests; steps are module-level so
that a resumed run and a child process can import them. Markers are files in the folder
named by $FLOW_DIR."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated

from headrace import pipeline, step


def _dir() -> Path:
    return Path(os.environ["FLOW_DIR"])


@step
def first(n: int = 5) -> Annotated[list[int], "numbers"]:
    (_dir() / "first.count").write_text(str(int(_read(_dir() / "first.count")) + 1))
    return list(range(n))


@step(cache=False)
def blocking(numbers: list[int]) -> Annotated[int, "total"]:
    """Announces itself, then waits while the 'block' file exists."""
    (_dir() / "blocking.started").write_text(str(os.getpid()))
    deadline = time.time() + 120
    while (_dir() / "block").exists() and time.time() < deadline:
        time.sleep(0.05)
    return sum(numbers)


@step
def last(total: int) -> Annotated[int, "result"]:
    return total * 2


@pipeline
def crashable(n: int = 5) -> None:
    last(blocking(first(n=n)))


@step(timeout=1.0)
def sleepy(seconds: float = 60.0) -> Annotated[float, "slept"]:
    (_dir() / "sleepy.pid").write_text(str(os.getpid()))
    time.sleep(seconds)
    return seconds


@pipeline
def timed(seconds: float = 60.0) -> None:
    sleepy(seconds=seconds)


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else "0"


if __name__ == "__main__":
    which = sys.argv[1]
    run = {"crashable": crashable, "timed": timed}[which]()
    print(run.id, run.status, flush=True)
