"""What a running step can ask about itself: ``get_step_context()`` and ``log_metadata()``."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headrace.errors import HeadraceError
from headrace.spec.canonical import is_json_value


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


def activate(ctx: StepContext) -> contextvars.Token[StepContext | None]:
    return _current.set(ctx)


def deactivate(token: contextvars.Token[StepContext | None]) -> None:
    _current.reset(token)
