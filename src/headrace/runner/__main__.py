"""Run one step task in this process: ``python -m headrace.runner [--result FILE]
[--parent PID] TASK.json|-`` (``-``: the task on standard input).

The task is a :class:`~headrace.runner.task.StepTask` as JSON; the result dict of
:func:`~headrace.runner.task.execute_task` goes to ``--result`` (or standard output).
With ``--parent``, the process kills its own group when that process is no longer its
parent: the parent enforces timeouts and records a step whose process died, and an
orphaned step would run on unwatched. A task with a timeout stops itself when the
step's own time is up (see ``headrace.runner.isolation``). Exit code 0 means a result
was written, whatever it says.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

PARENT_POLL_S = 0.5


def stop_with_parent(parent_pid: int) -> None:
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        _kill_group()

    threading.Thread(target=watch, name="headrace-parent-watch", daemon=True).start()


def _kill_group() -> None:
    if hasattr(os, "killpg"):
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(1)


def _write(result: dict[str, Any], target: str | None) -> None:
    text = json.dumps(result)
    if target is None:
        print(text, flush=True)
        return
    partial = Path(target + ".part")
    partial.write_text(text, encoding="utf-8")
    partial.replace(target)  # the parent never reads half a result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m headrace.runner")
    parser.add_argument("--result")
    parser.add_argument("--parent", type=int)
    parser.add_argument("task")
    args = parser.parse_args(argv)
    if args.parent is not None:
        stop_with_parent(args.parent)
    if args.task == "-":
        text = sys.stdin.read()
    else:
        with open(args.task, encoding="utf-8") as handle:
            text = handle.read()
    from headrace.runner.task import execute_task

    def timed_out(seconds: float) -> None:
        _write(
            {
                "status": "failed",
                "error": f"timed out after {seconds:g}s of the step's own time",
                "error_type": "TimeoutError",
                "timed_out": True,
                "traceback": f"timed out after {seconds:g}s of the step's own time "
                "(its process was killed; start-up is not counted)",
            },
            args.result,
        )
        _kill_group()

    result = execute_task(json.loads(text), on_timeout=timed_out)
    result.pop("exception", None)
    _write(result, args.result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
