"""Run step tasks on this machine: in threads of this process (default) or each in its
own process (``isolation="process"``).

- ``threads``: a bounded pool (``max_parallel``, default: CPU count, at most 4). Threads
  share the driver's open stores and its function objects; a step's heavy work (numpy,
  pandas, scikit-learn) releases the GIL, so independent branches overlap. A thread
  cannot be stopped, so a step with a ``timeout`` runs in its own process anyway.
- ``process``: every step task in its own process group (``python -m headrace.runner``),
  so Ctrl-C and timeouts stop a step at once, and a crashing step (a segfault, the OOM
  killer) cannot take the driver with it. Steps must be importable (module level).
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from headrace.errors import ConfigError
from headrace.runner.isolation import ChildProcesses
from headrace.runner.scheduler import RunContext
from headrace.runner.task import StepTask, execute_task

ISOLATION = ("threads", "process")


class LocalOrchestrator:
    """The ``local`` flavor: options ``max_parallel`` and ``isolation``."""

    def __init__(self, max_parallel: int | None = None, isolation: str = "threads") -> None:
        if max_parallel is not None and (
            not isinstance(max_parallel, int) or isinstance(max_parallel, bool) or max_parallel < 1
        ):
            raise ConfigError(f"max_parallel must be a positive integer, got {max_parallel!r}")
        if isolation not in ISOLATION:
            raise ConfigError(f"isolation must be one of {', '.join(ISOLATION)}, got {isolation!r}")
        self.max_parallel = max_parallel or min(4, os.cpu_count() or 1)
        self.isolation = isolation
        self.max_in_flight: int | None = self.max_parallel
        self._pool: ThreadPoolExecutor | None = None
        self._children = ChildProcesses()
        self._context: RunContext | None = None

    def open(self, context: RunContext) -> None:
        self._context = context
        self._children = ChildProcesses()
        self._pool = ThreadPoolExecutor(
            max_workers=self.max_parallel, thread_name_prefix="headrace-step"
        )

    def submit(self, task: StepTask) -> Future[dict[str, Any]]:
        assert self._pool is not None and self._context is not None, "open() first"
        if self.isolation == "process" or task.timeout is not None:
            return self._pool.submit(self._children.run, task.to_dict(), timeout=task.timeout)
        context = self._context
        return self._pool.submit(
            execute_task,
            task,
            function=context.functions.get(task.step),
            stores=context.stores,
        )

    def cancel(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._children.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
