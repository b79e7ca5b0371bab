"""Run one step in this process from a JSON task: ``python -m headrace.runner TASK.json``
(or ``-`` for standard input). Prints the step result as JSON.

The task holds ``spec`` (PipelineSpec.to_dict()), ``step``, ``settings``
(StoreSettings.to_dict()), ``run_id`` and ``inputs`` (input name -> artifact version id).
This is how a subprocess or a remote worker runs a step: the spec is all it needs.
A task with ``parent_pid`` (a step with a timeout, run by the local orchestrator) ends
when that process does, see :func:`stop_with_parent`.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

from headrace.errors import HeadraceError
from headrace.home import StoreSettings
from headrace.runner.step_runner import run_step
from headrace.spec.types import PipelineSpec

PARENT_POLL_S = 0.5


def stop_with_parent(parent_pid: int) -> None:
    """Kill this process and its group once ``parent_pid`` is no longer its parent.

    The parent enforces the step's timeout and records a step whose process died; if
    the parent is killed (kill -9, OOM) an orphaned step would run on unwatched and
    could record outputs for a run already marked crashed."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        if hasattr(os, "killpg"):
            os.killpg(os.getpgrp(), signal.SIGKILL)
        os._exit(1)

    threading.Thread(target=watch, name="headrace-parent-watch", daemon=True).start()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m headrace.runner TASK.json|-", file=sys.stderr)
        return 2
    if argv[0] == "-":
        text = sys.stdin.read()
    else:
        with open(argv[0], encoding="utf-8") as handle:
            text = handle.read()
    task = json.loads(text)
    if task.get("parent_pid") is not None:
        stop_with_parent(int(task["parent_pid"]))
    try:
        result = run_step(
            PipelineSpec.from_dict(task["spec"]),
            task["step"],
            StoreSettings.from_dict(task["settings"]),
            task["run_id"],
            task["inputs"],
            step_run_id=task.get("step_run_id"),
        )
    except HeadraceError as exc:
        print(json.dumps({"error": str(exc), "type": type(exc).__name__}))
        return 1
    print(
        json.dumps(
            {
                "step_run_id": result.step_run_id,
                "cache_hit": result.cache_hit,
                "outputs": result.outputs,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
