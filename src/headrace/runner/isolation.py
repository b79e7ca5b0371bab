"""Run a step task in a child process, so that a timeout or Ctrl-C can stop it for real.

Threads cannot be killed; processes can. The child is ``python -m headrace.runner``
in its own process group, fed the task on standard input; it writes its result to a
file and inherits the terminal, so what the step prints shows as it would in a thread
(and is captured into the step's logs by the child itself).

A step's timeout counts the step's own time: the child starts the clock when it calls
the step's function, not when the interpreter starts, and when the time is up it
flushes the step's log, writes a ``timed_out`` result and kills its own group. The
parent only keeps a backstop (the timeout plus :data:`STARTUP_ALLOWANCE`) for a child
that cannot even do that. A child whose parent dies kills itself (see
``headrace.runner.__main__``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

STARTUP_ALLOWANCE = 120.0  # seconds a child may take to import before its clock starts


class ChildProcesses:
    """The live step processes of one orchestrator, so cancel() can kill them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[subprocess.Popen[bytes]] = set()
        self.cancelled = False

    def run(self, task: dict[str, Any], *, timeout: float | None) -> dict[str, Any]:
        """Run one task in a child and return its result dict (a failure result if the
        child died, was killed, or never reported)."""
        from headrace.runner.scheduler import TaskLostError

        with tempfile.TemporaryDirectory(prefix="headrace-task-") as folder:
            result_file = Path(folder) / "result.json"
            env = dict(os.environ)
            # The child must import headrace and the step's module the way this process did.
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "headrace.runner",
                    "--result",
                    str(result_file),
                    "--parent",
                    str(os.getpid()),
                    "-",
                ],
                stdin=subprocess.PIPE,
                env=env,
                start_new_session=True,  # its own process group: a kill reaches its children
            )
            with self._lock:
                if self.cancelled:
                    _kill(proc)
                    raise TaskLostError("cancelled")
                self._live.add(proc)
            started = time.monotonic()
            backstop = None if timeout is None else timeout + STARTUP_ALLOWANCE
            try:
                assert proc.stdin is not None
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.write(json.dumps(task).encode())
                    proc.stdin.close()
                try:
                    proc.wait(timeout=backstop)
                except subprocess.TimeoutExpired:
                    _kill(proc)
                    raise TaskLostError(
                        f"timed out: its process gave no sign for {backstop:g}s"
                    ) from None
            except BaseException:
                _kill(proc)
                raise
            finally:
                with self._lock:
                    self._live.discard(proc)
            if self.cancelled:
                raise TaskLostError("cancelled")
            try:
                result: dict[str, Any] = json.loads(result_file.read_text(encoding="utf-8"))
                return result
            except (OSError, ValueError):
                code = proc.returncode
                how = f"signal {-code}" if code < 0 else f"exit code {code}"
                raise TaskLostError(
                    f"its process died ({how}) after {time.monotonic() - started:.1f}s "
                    "without reporting a result"
                ) from None

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            live = list(self._live)
        for proc in live:
            _kill(proc, wait=False)  # the thread waiting on it reaps it


def _kill(proc: subprocess.Popen[bytes], *, wait: bool = True) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if wait:
        with contextlib.suppress(Exception):
            proc.wait(timeout=10)
