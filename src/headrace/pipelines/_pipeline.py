"""``@pipeline``: a function whose body calls steps; calling it runs the traced spec."""

from __future__ import annotations

import functools
import inspect
import os
import typing
from collections.abc import Callable, Mapping
from typing import Any, Generic, ParamSpec, overload

from headrace.errors import ConfigError, DefinitionError
from headrace.spec.canonical import is_json_value
from headrace.spec.types import (
    FunctionRef,
    PipelineSpec,
)

if typing.TYPE_CHECKING:
    from headrace.client import Run
    from headrace.models import Model
from headrace.pipelines._capture import capture_source, needs_capture
from headrace.pipelines._config import _merge_config, _validate_run_config, load_run_config
from headrace.pipelines._tracing import (
    OutputRef,
    _plain,
    _Tracer,
    _tracer,
    qualify_artifact_names,
)

P = ParamSpec("P")


# -- pipelines --------------------------------------------------------------------------------


class Pipeline(Generic[P]):
    """A function decorated with ``@pipeline``. Calling it runs it on the active stack and
    returns the :class:`~headrace.client.Run`."""

    def __init__(
        self,
        func: Callable[P, Any],
        *,
        name: str | None = None,
        config: Mapping[str, Any] | None = None,
        model: Model | str | None = None,
    ) -> None:
        self.func = func
        self.name = name or func.__name__
        self.signature = inspect.signature(func)
        self.config: dict[str, Any] = dict(config or {})
        self.model = _as_model(model)
        functools.update_wrapper(self, func)  # type: ignore[arg-type]

    def with_options(
        self,
        *,
        config: str | os.PathLike[str] | Mapping[str, Any] | None = None,
        steps: Mapping[str, Mapping[str, Any]] | None = None,
        parameters: Mapping[str, Any] | None = None,
        cache: bool | None = None,
        orchestrator: Mapping[str, Any] | None = None,
        model: Model | str | None = None,
        stack: str | None = None,
    ) -> Pipeline[P]:
        """A copy with run configuration: a YAML file or dict (keys ``parameters``, ``cache``,
        ``steps: {name: {parameters: ..., cache: ..., retries: ...}}``, ``orchestrator``,
        ``stack``: a registered stack's name),
        then the keyword arguments on top. ``model`` registers a new version of that
        model for every completed run."""
        merged = _merge_config(self.config, load_run_config(config) if config is not None else {})
        extra: dict[str, Any] = {}
        if steps is not None:
            extra["steps"] = steps
        if parameters is not None:
            extra["parameters"] = parameters
        if cache is not None:
            extra["cache"] = cache
        if orchestrator is not None:
            extra["orchestrator"] = orchestrator
        if stack is not None:
            extra["stack"] = stack
        merged = _merge_config(merged, _validate_run_config(extra, "with_options()"))
        return Pipeline(
            self.func,
            name=self.name,
            config=merged,
            model=model if model is not None else self.model,
        )

    def compile(self, *args: P.args, **kwargs: P.kwargs) -> PipelineSpec:
        """Trace the body with these parameters and return the spec (nothing runs)."""
        return self._trace(args, kwargs)[0]

    def _trace(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> tuple[PipelineSpec, dict[str, Callable[..., Any]]]:
        params = self._bind_parameters(args, kwargs)
        tracer = _Tracer(step_config=self.config.get("steps", {}), cache=self.config.get("cache"))
        token = _tracer.set(tracer)
        try:
            body: Callable[..., Any] = self.func
            body(**params)
        finally:
            _tracer.reset(token)
        unknown = sorted(set(self.config.get("steps", {})) - set(tracer.steps))
        if unknown:
            raise ConfigError(
                f"pipeline '{self.name}': config names unknown step(s) {', '.join(unknown)}; "
                f"steps: {', '.join(tracer.steps)}"
            )
        if not tracer.steps:
            raise DefinitionError(f"pipeline '{self.name}' calls no steps")
        source = FunctionRef(
            self.func.__module__,
            self.func.__qualname__,
            inspect.getsourcefile(self.func),
            source=capture_source(self) if needs_capture(self.func) else None,
        )
        steps = qualify_artifact_names(tracer.steps)
        spec = PipelineSpec(
            name=self.name, parameters=params, steps=tuple(steps.values()), source=source
        )
        spec.order()  # raises on a cycle
        return spec, tracer.functions

    def _bind_parameters(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        configured = dict(self.config.get("parameters", {}))
        try:
            bound = self.signature.bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise DefinitionError(f"pipeline '{self.name}': {exc}") from None
        unknown = sorted(set(configured) - set(self.signature.parameters))
        if unknown:
            raise ConfigError(
                f"pipeline '{self.name}': config sets unknown parameter(s) {', '.join(unknown)}"
            )
        params: dict[str, Any] = {}
        for pname, param in self.signature.parameters.items():
            if pname in bound.arguments:
                value = bound.arguments[pname]
            elif pname in configured:
                value = configured[pname]
            elif param.default is not inspect.Parameter.empty:
                value = param.default
            else:
                raise DefinitionError(f"pipeline '{self.name}': missing parameter '{pname}'")
            if not is_json_value(value):
                raise DefinitionError(
                    f"pipeline '{self.name}': parameter '{pname}' is a {type(value).__name__}, "
                    "not a JSON value (str, number, bool, None, list, dict)"
                )
            params[pname] = _plain(value)
        return params

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Run:
        from headrace.client import Client
        from headrace.stack import active_stack

        tracer = _tracer.get()
        if tracer is not None:
            nested: Any = self._nest(tracer, args, dict(kwargs))
            return nested  # type: ignore[no-any-return]
        spec, functions = self._trace(args, kwargs)
        stack = active_stack(
            stack=self.config.get("stack"), orchestrator=self.config.get("orchestrator")
        )
        run_id = stack.run(spec, functions=functions)
        if self.model is not None:
            from headrace.models.registry import register_run

            register_run(stack.settings, self.model, run_id)
        return Client(settings=stack.settings).run(run_id)

    def _nest(self, tracer: _Tracer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Called inside another pipeline's body: trace this body into that graph, under
        the namespace ``id=`` (default: this pipeline's name). Arguments may be step
        outputs of the outer pipeline; the body's return value is passed back."""
        namespace = kwargs.pop("id", None) if "id" not in self.signature.parameters else None
        namespace = namespace or self.name
        if not isinstance(namespace, str) or not namespace.isidentifier():
            raise DefinitionError(f"sub-pipeline id={namespace!r} must be a Python identifier")
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise DefinitionError(f"sub-pipeline '{self.name}': {exc}") from None
        bound.apply_defaults()
        for pname, value in bound.arguments.items():
            if not isinstance(value, OutputRef) and not is_json_value(value):
                raise DefinitionError(
                    f"sub-pipeline '{self.name}': argument '{pname}' is a "
                    f"{type(value).__name__}, neither a step output nor a JSON value"
                )
        token = tracer.enter(namespace)
        try:
            body: Callable[..., Any] = self.func
            return body(*bound.args, **bound.kwargs)
        finally:
            tracer.leave(token)

    def __repr__(self) -> str:
        return f"<pipeline {self.name}>"


@overload
def pipeline(func: Callable[P, Any], /) -> Pipeline[P]: ...


@overload
def pipeline(
    func: None = None, /, *, name: str | None = None, model: Model | str | None = None
) -> Callable[[Callable[P, Any]], Pipeline[P]]: ...


def pipeline(
    func: Callable[P, Any] | None = None,
    /,
    *,
    name: str | None = None,
    model: Model | str | None = None,
) -> Any:
    """Make a function whose body calls steps a pipeline: ``@pipeline`` or
    ``@pipeline(name=..., model=Model("churn"))`` (each completed run then registers a
    new version of that model)."""
    if func is not None:
        return Pipeline(func, name=name, model=model)
    return lambda f: Pipeline(f, name=name, model=model)


def _as_model(model: Any) -> Model | None:
    if model is None:
        return None
    from headrace.models import Model

    if isinstance(model, str):
        return Model(model)
    if not isinstance(model, Model):
        raise DefinitionError(f"model= takes a Model or a model name, not {type(model).__name__}")
    return model
