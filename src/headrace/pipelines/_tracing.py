"""Tracing a pipeline body: each step call inside it adds a StepSpec and returns
placeholders for the step's outputs.

Beyond plain calls, a body may:

- fan in: pass a list of step outputs to one parameter (``pick([fit(c) for c in Cs])``);
- map: ``fit.map(items, C=0.5)`` runs one step run per element of ``items`` (a step
  output holding a list, known only at run time, or a literal list); passing the result
  on gives the next step the list of every element's outputs in order, and mapping over
  it again works element by element;
- compose: calling another ``@pipeline`` adds its steps as a sub-graph whose step and
  artifact names carry the sub-pipeline's name (``prep.clean``), Kedro's namespaces.
"""

from __future__ import annotations

import contextvars
import dataclasses
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

from headrace.errors import ConfigError, DefinitionError
from headrace.pipelines._options import _make_options
from headrace.spec.canonical import is_json_value
from headrace.spec.types import Binding, InputBinding, StepSpec

if typing.TYPE_CHECKING:
    from headrace.pipelines._step import Step


# -- tracing ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class OutputRef:
    """What a step call returns inside a pipeline body: a handle on one of its outputs.
    ``mapped``: the output of a ``.map``, one value per element."""

    step: str
    output: str
    tracer_id: int
    mapped: bool = False

    def __bool__(self) -> bool:
        raise DefinitionError(
            f"the output '{self.output}' of step '{self.step}' has no value while the pipeline is "
            "traced: branch inside a step, not in the pipeline body",
            step=self.step,
        )

    def __iter__(self) -> Any:
        raise DefinitionError(
            f"the output '{self.output}' of step '{self.step}' has no value while the pipeline "
            "is traced, so it cannot be unpacked or iterated: to run a step for each of its "
            f"elements use other_step.map({self.output}), which fans out at run time",
            step=self.step,
        )

    def __len__(self) -> int:
        raise DefinitionError(
            f"the length of output '{self.output}' of step '{self.step}' is known only at run "
            f"time: use other_step.map({self.output}) to fan out over it",
            step=self.step,
        )


@dataclasses.dataclass
class _Tracer:
    step_config: Mapping[str, Mapping[str, Any]]
    cache: bool | None
    steps: dict[str, StepSpec] = dataclasses.field(default_factory=dict)
    functions: dict[str, Callable[..., Any]] = dataclasses.field(default_factory=dict)
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    namespace: tuple[str, ...] = ()
    namespaces: set[str] = dataclasses.field(default_factory=set)

    def _binding(self, value: OutputRef, pname: str, name: str) -> InputBinding:
        if value.tracer_id != id(self):
            raise DefinitionError(f"input '{pname}' comes from another pipeline's trace", step=name)
        return InputBinding(value.step, value.output, collect=value.mapped)

    def add(
        self,
        step: Step[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        map_items: Any = dataclasses.MISSING,
    ) -> Any:
        own = step.signature.parameters
        explicit_id = kwargs.pop("id") if "id" in kwargs and "id" not in own else None
        after = kwargs.pop("after") if "after" in kwargs and "after" not in own else ()
        name = self._invocation_name(step, explicit_id)
        map_over: str | None = None
        if map_items is not dataclasses.MISSING:
            free = [p for p in own if p not in kwargs]
            if not free:
                raise DefinitionError(
                    "map() needs a parameter to receive each element, but every parameter "
                    "is given by keyword",
                    step=name,
                )
            map_over = free[0]
            if not isinstance(map_items, OutputRef) and not (
                isinstance(map_items, list | tuple) and is_json_value(list(map_items))
            ):
                raise DefinitionError(
                    f"map() runs over a list: a step output holding one, or a literal list of "
                    f"JSON values, not a {type(map_items).__name__}",
                    step=name,
                )
            kwargs = {**kwargs, map_over: map_items}
        try:
            bound = step.signature.bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise DefinitionError(str(exc), step=name) from None

        parameters: dict[str, Any] = {}
        inputs: dict[str, Binding] = {}
        for pname, param in own.items():
            if pname in bound.arguments:
                value = bound.arguments[pname]
                if isinstance(value, OutputRef):
                    inputs[pname] = self._binding(value, pname, name)
                elif (
                    isinstance(value, list | tuple)
                    and value
                    and all(isinstance(v, OutputRef) for v in value)
                ):
                    inputs[pname] = tuple(self._binding(v, pname, name) for v in value)
                elif is_json_value(value):
                    parameters[pname] = _plain(value)
                elif isinstance(value, list | tuple | dict) and _contains_ref(value):
                    raise DefinitionError(
                        f"argument '{pname}' mixes step outputs with other values (or nests "
                        f"them in a {type(value).__name__}); pass a flat list of step outputs, "
                        "or each output as its own argument",
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
        outputs = step.outputs
        if self.namespace:
            prefix = ".".join(self.namespace)
            outputs = tuple(dataclasses.replace(o, artifact=f"{prefix}.{o.name}") for o in outputs)
        self.steps[name] = StepSpec(
            name=name,
            function=step.ref,
            code_hash=step.code_hash,
            parameters=parameters,
            inputs=inputs,
            outputs=outputs,
            options=options,
            after=after_names,
            map_over=map_over,
        )
        self.functions[name] = step.func
        refs = tuple(
            OutputRef(name, o.name, id(self), mapped=map_over is not None) for o in outputs
        )
        if not refs:
            return None
        return refs[0] if len(refs) == 1 else refs

    def _invocation_name(self, step: Step[Any, Any], explicit: Any) -> str:
        prefix = "".join(f"{n}." for n in self.namespace)
        if explicit is not None:
            if not isinstance(explicit, str) or not explicit.isidentifier():
                raise DefinitionError(
                    f"id={explicit!r} must be a Python identifier", step=step.name
                )
            if prefix + explicit in self.steps:
                raise DefinitionError(f"two steps have the id '{explicit}'", step=explicit)
            return prefix + explicit
        base = prefix + step.name
        count = self.counts.get(base, 0) + 1
        self.counts[base] = count
        name = base if count == 1 else f"{base}_{count}"
        while name in self.steps:
            count += 1
            name = f"{base}_{count}"
        return name

    def enter(self, namespace: str) -> contextvars.Token[_Tracer | None]:
        """Start a sub-pipeline's sub-graph; its names are prefixed ``namespace.``."""
        full = ".".join((*self.namespace, namespace))
        if full in self.namespaces:
            raise DefinitionError(
                f"the sub-pipeline '{full}' is used twice: give each use its own id= "
                f"(pipeline(..., id='{namespace}_2'))"
            )
        self.namespaces.add(full)
        self.namespace = (*self.namespace, namespace)
        return _tracer.set(self)

    def leave(self, token: contextvars.Token[_Tracer | None]) -> None:
        self.namespace = self.namespace[:-1]
        _tracer.reset(token)


def qualify_artifact_names(steps: Mapping[str, StepSpec]) -> dict[str, StepSpec]:
    """Keep outputs of different step invocations apart: when two invocations would
    store versions of one artifact name, each is named for its invocation
    (``train_2.model``), so ``latest``, lineage and the CLI never mix them up."""
    producers: dict[str, list[str]] = {}
    for spec in steps.values():
        for out in spec.outputs:
            producers.setdefault(out.artifact_name, []).append(spec.name)
    clashing = {name for name, nodes in producers.items() if len(nodes) > 1}
    if not clashing:
        return dict(steps)
    fixed: dict[str, StepSpec] = {}
    for node, spec in steps.items():
        outputs = tuple(
            dataclasses.replace(o, artifact=f"{node}.{o.name}")
            if o.artifact_name in clashing
            else o
            for o in spec.outputs
        )
        fixed[node] = (
            dataclasses.replace(spec, outputs=outputs) if outputs != spec.outputs else spec
        )
    return fixed


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
