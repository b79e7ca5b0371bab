"""Step tasks: one attempt of one step, as plain JSON, and the entry point that runs it.

The scheduler on the driver turns every step that must run into a :class:`StepTask`;
an orchestrator sends it wherever it likes (a thread here, a child process, a Ray or
Dask worker, an Airflow task) and calls :func:`execute_task` there. That function needs
nothing but the task: it opens the stores the settings name, makes the driver's
materializer registrations, loads the hooks, captures the step's logs, runs the
attempt and returns a result dict. It never raises for a failure of the user's code;
the result says what went wrong, and the scheduler decides about retries and records
the failure.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from headrace.errors import ConfigError

TASK_VERSION = 1


@dataclass(frozen=True, slots=True)
class StepTask:
    run_id: str
    step_run_id: str
    step: str  # the step's name in the spec
    spec: dict[str, Any]  # PipelineSpec.to_dict()
    inputs: dict[str, Any]  # input name -> artifact version id, or a list of ids (fan-in)
    settings: dict[str, Any]  # StoreSettings.to_dict()
    cache_key: str
    cache_components: dict[str, Any]
    cache_reason: str
    name: str = ""  # the step run's name: the step's, or ``step[i]`` for a map element
    attempt: int = 1
    max_attempts: int = 1
    previous_errors: list[str] = field(default_factory=list)  # reasons of earlier attempts
    timeout: float | None = None
    map_index: int | None = None
    map_split: bool = False  # take element ``map_index`` of the mapped input (or parameter)
    materializers: dict[str, str] = field(default_factory=dict)
    hooks: list[str] = field(default_factory=list)  # plugin import paths

    @property
    def run_name(self) -> str:
        return self.name or self.step

    def to_dict(self) -> dict[str, Any]:
        return {"task_version": TASK_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepTask:
        data = dict(data)
        version = data.pop("task_version", None)
        if version != TASK_VERSION:
            raise ConfigError(f"step task version {version!r} is not supported")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ConfigError(f"malformed step task: {exc}") from exc


def node_name() -> str:
    return socket.gethostname()


_specs: dict[str, Any] = {}  # run id -> its PipelineSpec: one spec per run, parsed once


def _spec(run_id: str, data: Mapping[str, Any]) -> Any:
    from headrace.spec.types import PipelineSpec

    spec = _specs.get(run_id)
    if spec is None:
        spec = PipelineSpec.from_dict(dict(data))
        if len(_specs) > 64:
            _specs.clear()
        _specs[run_id] = spec
    return spec


def execute_task(
    task: StepTask | Mapping[str, Any],
    *,
    function: Callable[..., Any] | None = None,
    stores: Any = None,
    on_timeout: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Run one attempt of a step here. ``function`` (the driver's own function object,
    for a thread of the driver) and ``stores`` (already open) are optional shortcuts.
    ``on_timeout(seconds)`` is called from a watchdog thread when the step's own time
    passes its timeout (a process that can be killed passes one; a thread cannot).

    Returns ``{"status": "completed", "step_run_id", "outputs", "node"}`` or
    ``{"status": "failed", "error", "error_type", "traceback", "node"}`` (a ``timed_out``
    key when the step's own time ran out)."""
    import traceback

    from headrace import materializers
    from headrace.home import StoreSettings
    from headrace.hooks import hooks_for
    from headrace.runner.step_runner import execute_step
    from headrace.store.stores import open_stores

    try:
        if not isinstance(task, StepTask):
            task = StepTask.from_dict(task)
        settings = StoreSettings.from_dict(task.settings)
        spec = _spec(task.run_id, task.spec)
        if task.materializers:
            materializers.apply_registrations(task.materializers)
        opened = stores if stores is not None else open_stores(settings)
        hooks = hooks_for(tracker=settings.tracker, paths=task.hooks, local=function is not None)
        return execute_step(task, spec, opened, hooks, function=function, on_timeout=on_timeout)
    except BaseException as exc:
        if not isinstance(exc, Exception):
            raise
        return failure_result(exc, traceback.format_exc())


def failure_result(exc: BaseException, text: str, **extra: Any) -> dict[str, Any]:
    from headrace.errors import StepError

    message = str(exc)
    if isinstance(exc, StepError):
        message = message.split(" failed: ", 1)[-1]
    return {
        "status": "failed",
        "error": f"{type(exc).__name__}: {message}" if not isinstance(exc, StepError) else message,
        "error_type": type(exc).__name__,
        "traceback": text[-20000:],
        "node": node_name(),
        **extra,
    }
