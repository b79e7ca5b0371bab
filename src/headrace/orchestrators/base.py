"""The orchestrator protocol: an executor of step tasks, found through its flavor.

An orchestrator never schedules: the driver's :class:`~headrace.runner.scheduler.Scheduler`
decides what runs, in which order, what is cached, skipped or retried. An orchestrator
is told when a run starts (``open``), is handed one
:class:`~headrace.runner.task.StepTask` at a time (``submit``) and returns a future of
the result dict that :func:`~headrace.runner.task.execute_task` produced wherever the
task ran. A task whose process or node died resolves with an exception (ideally
:class:`~headrace.runner.scheduler.TaskLostError`); the scheduler records it as a failed
attempt and retries it like any other. ``max_in_flight`` caps how many tasks the
scheduler hands over at once (None: no cap).

A new engine is a class with these four methods, registered as the entry point
``orchestrator.NAME`` in the ``headrace.flavors`` group; its ``__init__`` keyword
arguments are its options.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from headrace import flavors

if TYPE_CHECKING:
    from headrace.runner.scheduler import RunContext
    from headrace.runner.task import StepTask


@runtime_checkable
class Orchestrator(Protocol):
    max_in_flight: int | None

    def open(self, context: RunContext) -> None:
        """A run starts (connect to the engine, start a pool)."""

    def submit(self, task: StepTask) -> Future[dict[str, Any]]:
        """Start one step task; the future resolves to its result dict."""
        ...

    def cancel(self) -> None:
        """Stop every task in flight (Ctrl-C, or the run failed)."""

    def close(self) -> None:
        """The run ended (always called after ``open``)."""


def load_orchestrator(config: Mapping[str, Any]) -> Orchestrator:
    """Build the orchestrator a stack config names (``flavor`` defaults to ``local``;
    every other key is an option of that flavor)."""
    options = dict(config)
    flavor = str(options.pop("flavor", "local"))
    orchestrator: Orchestrator = flavors.create("orchestrator", flavor, options)
    return orchestrator
