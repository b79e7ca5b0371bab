"""What a running step can ask about itself and record: ``get_step_context()``,
``log_metadata()`` (key/values, the last write wins) and ``log_metric()`` (a history of
points, e.g. one per epoch)."""

from __future__ import annotations

import contextvars
import math
import numbers
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headrace.errors import HeadraceError
from headrace.spec.canonical import is_json_value
from headrace.store.records import MetricPoint


@dataclass(slots=True)
class StepContext:
    run_id: str
    step_run_id: str
    step_name: str
    pipeline_name: str
    output_names: tuple[str, ...]
    staging_dir: Path
    artifact_root: str
    step_metadata: dict[str, Any] = field(default_factory=dict)
    output_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Every ``log_metric`` point of this step, in logging order (hooks may forward them).
    metric_points: list[MetricPoint] = field(default_factory=list)

    def output_uri(self, name: str) -> str:
        """A folder for extra files of output ``name``: whatever the step writes there is
        stored with the output and covered by its content hash."""
        if name not in self.output_names:
            raise HeadraceError(
                f"step '{self.step_name}' has no output '{name}' (outputs: {', '.join(self.output_names)})"
            )
        folder = self.staging_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder)


_current: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar(
    "headrace_step_context", default=None
)


def get_step_context() -> StepContext:
    """The context of the step running in this thread; an error outside a running step."""
    ctx = _current.get()
    if ctx is None:
        raise HeadraceError("get_step_context() is only available inside a running step")
    return ctx


def log_metadata(values: dict[str, Any], *, artifact: str | None = None) -> None:
    """Record JSON metadata on the running step, or on one of its outputs (``artifact=``)."""
    ctx = get_step_context()
    if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
        raise HeadraceError(f"step '{ctx.step_name}': log_metadata takes a dict with str keys")
    bad = [k for k, v in values.items() if not is_json_value(v)]
    if bad:
        raise HeadraceError(
            f"step '{ctx.step_name}': metadata {', '.join(map(repr, bad))} is not a JSON value"
        )
    if artifact is None:
        ctx.step_metadata.update(values)
        return
    if artifact not in ctx.output_names:
        raise HeadraceError(
            f"step '{ctx.step_name}' has no output '{artifact}' (outputs: {', '.join(ctx.output_names)})"
        )
    ctx.output_metadata.setdefault(artifact, {}).update(values)


def log_metric(name: str, value: float, step: int | None = None) -> MetricPoint:
    """Append a point to metric ``name`` of the running step: ``value`` a finite number,
    ``step`` a non-negative integer x position (an epoch); without ``step``, one more than
    the metric's previous step (0 for its first point). Every point is kept, with the time
    it was logged: ``StepRun.metrics()`` reads them back, ``headrace runs show`` prints
    them, ``headrace runs list --where "NAME > X"`` filters on a run's last value."""
    ctx = get_step_context()
    where = f"step '{ctx.step_name}': log_metric"
    if not isinstance(name, str) or not name.strip():
        raise HeadraceError(f"{where}: the name must be a non-empty string, got {name!r}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise HeadraceError(
            f"{where}({name!r}): the value must be a number, got a {type(value).__name__}"
        )
    number = float(value)
    if not math.isfinite(number):
        raise HeadraceError(f"{where}({name!r}): the value must be finite, got {number}")
    if step is None:
        previous = [p.step for p in ctx.metric_points if p.name == name]
        step = previous[-1] + 1 if previous else 0
    elif isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
        raise HeadraceError(f"{where}({name!r}): step must be a non-negative integer, got {step!r}")
    point = MetricPoint(name=name, value=number, step=int(step), timestamp=time.time())
    ctx.metric_points.append(point)
    return point


def activate(ctx: StepContext) -> contextvars.Token[StepContext | None]:
    return _current.set(ctx)


def deactivate(token: contextvars.Token[StepContext | None]) -> None:
    _current.reset(token)
