"""Tracing a pipeline body: each step call inside it adds a StepSpec and returns
placeholders for the step's outputs."""

from __future__ import annotations

import contextvars
import dataclasses
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

from headrace.errors import ConfigError, DefinitionError
from headrace.spec.canonical import is_json_value
from headrace.spec.types import (
    InputBinding,
    StepSpec,
)

if typing.TYPE_CHECKING:
    pass
from headrace.pipelines._options import _make_options

if typing.TYPE_CHECKING:
    from headrace.pipelines._step import Step


# -- tracing ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class OutputRef:
    """What a step call returns inside a pipeline body: a handle on one of its outputs."""

    step: str
    output: str
    tracer_id: int

    def __bool__(self) -> bool:
        raise DefinitionError(
            f"the output '{self.output}' of step '{self.step}' has no value while the pipeline is "
            "traced: branch inside a step, not in the pipeline body",
            step=self.step,
        )

    def __iter__(self) -> Any:
        raise DefinitionError(
            f"step '{self.step}' has one output ('{self.output}'); it cannot be unpacked",
            step=self.step,
        )


@dataclasses.dataclass
class _Tracer:
    step_config: Mapping[str, Mapping[str, Any]]
    cache: bool | None
    steps: dict[str, StepSpec] = dataclasses.field(default_factory=dict)
    functions: dict[str, Callable[..., Any]] = dataclasses.field(default_factory=dict)
    counts: dict[str, int] = dataclasses.field(default_factory=dict)

    def add(self, step: Step[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        own = step.signature.parameters
        explicit_id = kwargs.pop("id") if "id" in kwargs and "id" not in own else None
        after = kwargs.pop("after") if "after" in kwargs and "after" not in own else ()
        name = self._invocation_name(step, explicit_id)
        try:
            bound = step.signature.bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise DefinitionError(str(exc), step=name) from None

        parameters: dict[str, Any] = {}
        inputs: dict[str, InputBinding] = {}
        for pname, param in own.items():
            if pname in bound.arguments:
                value = bound.arguments[pname]
                if isinstance(value, OutputRef):
                    if value.tracer_id != id(self):
                        raise DefinitionError(
                            f"input '{pname}' comes from another pipeline's trace", step=name
                        )
                    inputs[pname] = InputBinding(value.step, value.output)
                elif is_json_value(value):
                    parameters[pname] = _plain(value)
                elif isinstance(value, list | tuple | dict) and _contains_ref(value):
                    raise DefinitionError(
                        f"argument '{pname}' puts step outputs inside a {type(value).__name__}; "
                        "pass each output as its own argument",
                        step=name,
                    )
                else:
                    raise DefinitionError(
                        f"argument '{pname}' is a {type(value).__name__}, which is neither the output "
                        "of a step nor a JSON parameter (str, number, bool, None, list, dict)",
                        step=name,
                    )
            elif param.default is not inspect.Parameter.empty:
                if not is_json_value(param.default):
                    raise DefinitionError(
                        f"the default of parameter '{pname}' is a {type(param.default).__name__}, "
                        "not a JSON value",
                        step=name,
                    )
                parameters[pname] = _plain(param.default)
            else:
                raise DefinitionError(
                    f"missing input '{pname}': pass the output of a step or a parameter", step=name
                )

        options = step.options
        config = dict(self.step_config.get(name, {}))
        if "parameters" in config:
            extra = config.pop("parameters") or {}
            for pname, value in extra.items():
                if pname not in own:
                    raise ConfigError(f"step '{name}': config sets unknown parameter '{pname}'")
                if pname in inputs:
                    raise ConfigError(f"step '{name}': parameter '{pname}' is fed by a step output")
                if not is_json_value(value):
                    raise ConfigError(f"step '{name}': parameter '{pname}' is not a JSON value")
                parameters[pname] = _plain(value)
        if self.cache is False:
            config.setdefault("cache", False)
        if config:
            try:
                options = _make_options(name, config, base=options)
            except DefinitionError as exc:
                raise ConfigError(str(exc)) from None

        after_names = tuple(
            _after_name(a, name) for a in ([after] if isinstance(after, str | OutputRef) else after)
        )
        for dep in after_names:
            if dep not in self.steps:
                raise DefinitionError(f"after={dep!r} names no earlier step", step=name)
        self.steps[name] = StepSpec(
            name=name,
            function=step.ref,
            code_hash=step.code_hash,
            parameters=parameters,
            inputs=inputs,
            outputs=step.outputs,
            options=options,
            after=after_names,
        )
        self.functions[name] = step.func
        refs = tuple(OutputRef(name, o.name, id(self)) for o in step.outputs)
        if not refs:
            return None
        return refs[0] if len(refs) == 1 else refs

    def _invocation_name(self, step: Step[Any, Any], explicit: Any) -> str:
        if explicit is not None:
            if not isinstance(explicit, str) or not explicit.isidentifier():
                raise DefinitionError(
                    f"id={explicit!r} must be a Python identifier", step=step.name
                )
            if explicit in self.steps:
                raise DefinitionError(f"two steps have the id '{explicit}'", step=explicit)
            return explicit
        count = self.counts.get(step.name, 0) + 1
        self.counts[step.name] = count
        name = step.name if count == 1 else f"{step.name}_{count}"
        while name in self.steps:
            count += 1
            name = f"{step.name}_{count}"
        return name


def _after_name(value: Any, step: str) -> str:
    if isinstance(value, OutputRef):
        return value.step
    if isinstance(value, str):
        return value
    raise DefinitionError(
        f"after= takes step names or step outputs, got {type(value).__name__}", step=step
    )


def _contains_ref(value: Any) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return any(
        isinstance(v, OutputRef) or (isinstance(v, list | tuple | dict) and _contains_ref(v))
        for v in items
    )


def _plain(value: Any) -> Any:
    """JSON shape of a value: tuples become lists, so the spec round-trips exactly."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


_tracer: contextvars.ContextVar[_Tracer | None] = contextvars.ContextVar(
    "headrace_tracer", default=None
)
