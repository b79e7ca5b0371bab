"""Pipelines for the scheduler, map, hook and log tests. Module level, so that steps run
in their own processes (isolation="process") can be imported there."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

from headrace import log_metadata, pipeline, step
from headrace.hooks import hookimpl

log = logging.getLogger("tests.flows")


@step
def numbers(n: int = 5) -> Annotated[list[int], "numbers"]:
    return list(range(n))


@step
def square(x: int) -> Annotated[int, "square"]:
    return x * x


@step
def add(x: int, y: int = 0) -> Annotated[int, "sum"]:
    return x + y


@step
def total(values: list[int]) -> Annotated[int, "total"]:
    return sum(values)


@pipeline
def mapped(n: int = 5) -> None:
    total(square.map(numbers(n=n)))


@pipeline
def chained(n: int = 4) -> None:
    """Element-wise: the second map runs over the first map's outputs one by one."""
    total(add.map(square.map(numbers(n=n)), y=1))


@pipeline
def literal(values: list[int] = [1, 2, 3]) -> None:  # noqa: B006 - a JSON default
    total(square.map(values))


@step
def not_a_list() -> Annotated[int, "scalar"]:
    return 7


@pipeline
def maps_over_a_scalar() -> None:
    square.map(not_a_list())


@step
def fit(C: float = 1.0) -> Annotated[dict[str, float], "model"]:
    return {"C": C, "score": 1.0 / (1.0 + abs(C - 0.5))}


@step
def pick_best(models: list[dict[str, float]]) -> Annotated[dict[str, float], "best"]:
    return max(models, key=lambda m: m["score"])


@pipeline
def fan_in(Cs: list[float] = [0.1, 0.5, 2.0]) -> None:  # noqa: B006 - a JSON default
    pick_best([fit(C=c) for c in Cs])


@pipeline
def ids() -> None:
    pick_best([fit(C=0.1, id="small"), fit(C=0.5, id="mid")])


# -- composition -----------------------------------------------------------------------


@step
def clean(values: list[int]) -> Annotated[list[int], "cleaned"]:
    return [v for v in values if v % 2 == 0]


@pipeline
def prep(n: int = 6) -> Any:
    return clean(numbers(n=n))


@pipeline
def composed(n: int = 6) -> None:
    total(prep(n=n))


# -- failures, retries, timeouts --------------------------------------------------------


@step
def explode(x: int = 1) -> Annotated[int, "never"]:
    print("about to fail")
    log.warning("a warning before failing")
    raise ValueError("boom")


@pipeline
def failing() -> None:
    explode()
    total(numbers(n=3))


def _marker(name: str) -> Path:
    return Path(os.environ["FLOW_DIR"]) / name


@step(retries=2, retry_delay=0.05, timeout=1)
def hangs_twice() -> Annotated[int, "value"]:
    """Hangs on its first two attempts (counted in $FLOW_DIR), then succeeds."""
    counter = _marker("attempts")
    done = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(done + 1))
    if done < 2:
        print(f"attempt {done + 1} hangs")
        time.sleep(60)
    return done + 1


@pipeline
def flaky() -> None:
    hangs_twice()


@step(timeout=1)
def naps(seconds: float = 0.3) -> Annotated[float, "slept"]:
    """Well under its limit: only its own time counts, not the child's start-up."""
    time.sleep(seconds)
    return seconds


@pipeline
def napping(seconds: float = 0.3) -> None:
    naps(seconds=seconds)


@step(timeout=1)
def sleeps(seconds: float = 30.0) -> Annotated[int, "never"]:
    print("going to sleep", flush=True)
    time.sleep(seconds)
    return 0


@pipeline
def sleepy() -> None:
    sleeps()


@step
def chatty(lines: int = 3) -> Annotated[int, "count"]:
    for i in range(lines):
        print(f"line {i}")
    print("to stderr", file=sys.stderr)
    log.warning("logged at warning")
    log_metadata({"lines": lines})
    return lines


@step
def flood(megabytes: int = 50) -> Annotated[int, "count"]:
    chunk = "x" * 1023 + "\n"
    for _ in range(megabytes * 1024):
        sys.stdout.write(chunk)
    return megabytes


@pipeline
def talking(lines: int = 3) -> None:
    chatty(lines=lines)


@pipeline
def flooding(megabytes: int = 50) -> None:
    flood(megabytes=megabytes)


# -- a hook plugin that writes every event to $HOOK_LOG (works in any process) ---------


class Recorder:
    @staticmethod
    def _write(line: str) -> None:
        with open(os.environ["HOOK_LOG"], "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()} {line}\n")

    @hookimpl
    def run_start(self, run: Any) -> None:
        self._write(f"run_start {run.pipeline}")

    @hookimpl
    def run_end(self, run: Any, status: str, error: str | None) -> None:
        self._write(f"run_end {status}")

    @hookimpl
    def step_start(self, step: Any) -> None:
        self._write(f"step_start {step.name}")

    @hookimpl
    def step_end(self, step: Any, status: str, cache_hit: bool, outputs: Any) -> dict[str, str]:
        self._write(f"step_end {step.name} {status} hit={cache_hit} outputs={sorted(outputs)}")
        return {"recorder": f"seen {step.name}"}

    @hookimpl
    def artifact_saved(self, artifact: Any) -> None:
        self._write(f"artifact_saved {artifact.name} v{artifact.version}")

    @hookimpl
    def failure(self, step: Any, error: str) -> None:
        self._write(f"failure {step.name}")


RECORDER = Recorder()


class Broken:
    @hookimpl
    def step_end(self, step: Any) -> None:
        raise RuntimeError("this plugin is broken")


BROKEN = Broken()
