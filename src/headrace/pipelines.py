"""``@step`` and ``@pipeline``: plain functions become steps, and calling steps inside a
pipeline body traces a DAG.

Outside a pipeline a step is its plain function, so steps stay unit-testable. Inside a
pipeline body each call returns placeholders for the step's outputs; tracing the body
yields a :class:`~headrace.model.spec.PipelineSpec`. Every wiring mistake is a
DefinitionError naming the step, raised before anything runs or is written.
"""

from __future__ import annotations

import ast
import contextvars
import dataclasses
import functools
import inspect
import os
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Generic, ParamSpec, TypeVar, overload

from headrace.errors import ConfigError, DefinitionError
from headrace.hashing import code_fingerprint
from headrace.model.canonical import is_json_value
from headrace.model.spec import (
    FunctionRef,
    InputBinding,
    OutputSpec,
    PipelineSpec,
    StepOptions,
    StepSpec,
)

if typing.TYPE_CHECKING:
    from headrace.client import Run
    from headrace.models import Model

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_OUTPUT = "output"
_STEP_CONFIG_KEYS = StepOptions.names() | {"parameters"}
_RUN_CONFIG_KEYS = frozenset({"parameters", "cache", "steps", "orchestrator"})


# -- steps ---------------------------------------------------------------------------------


class Step(Generic[P, R]):
    """A function decorated with ``@step``. Call it outside a pipeline to run the function."""

    def __init__(self, func: Callable[P, R], options: StepOptions) -> None:
        self.func = func
        self.name = func.__name__
        self.options = options
        self.signature = inspect.signature(func)
        try:
            self.outputs = _parse_outputs(func, self.name)
        except DefinitionError as exc:
            if exc.step is None:
                raise DefinitionError(str(exc), step=self.name) from None
            raise
        for param in self.signature.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise DefinitionError(
                    f"*args/**kwargs parameter '{param.name}' is not supported: name each input",
                    step=self.name,
                )
        unknown = set(options.materializers) - {o.name for o in self.outputs}
        if unknown:
            raise DefinitionError(
                f"materializers given for unknown output(s) {', '.join(sorted(unknown))}",
                step=self.name,
            )
        functools.update_wrapper(self, func)  # type: ignore[arg-type]

    @functools.cached_property
    def code_hash(self) -> str:
        return code_fingerprint(self.func)

    @property
    def ref(self) -> FunctionRef:
        file = inspect.getsourcefile(self.func)
        return FunctionRef(module=self.func.__module__, qualname=self.func.__qualname__, file=file)

    def with_options(self, **options: Any) -> Step[P, R]:
        """A copy of this step with some options changed (``cache``, ``retries``, ...)."""
        return Step(self.func, _make_options(self.name, options, base=self.options))

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        tracer = _tracer.get()
        if tracer is None:
            return self.func(*args, **kwargs)
        return tracer.add(self, args, dict(kwargs))  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"<step {self.name}>"


@overload
def step(func: Callable[P, R], /) -> Step[P, R]: ...


@overload
def step(
    func: None = None,
    /,
    *,
    cache: bool = True,
    cache_version: str | None = None,
    retries: int = 0,
    retry_delay: float = 1.0,
    retry_backoff: float = 2.0,
    allow_pickle: bool = False,
    materializers: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Callable[[Callable[P, R]], Step[P, R]]: ...


def step(func: Callable[P, R] | None = None, /, **options: Any) -> Any:
    """Make a function a pipeline step: ``@step`` or ``@step(cache=False, retries=2)``.

    Outputs come from the return annotation: ``Annotated[T, "name"]`` names one, a
    ``tuple[Annotated[...], ...]`` declares several, anything else is one output called
    ``output`` (``-> None``: no output).
    """
    if func is not None:
        if options:
            raise DefinitionError("use @step(...) with keyword options, or bare @step")
        return Step(func, StepOptions())

    def decorate(f: Callable[P, R]) -> Step[P, R]:
        return Step(f, _make_options(f.__name__, options))

    return decorate


def _make_options(
    step_name: str, options: Mapping[str, Any], base: StepOptions | None = None
) -> StepOptions:
    unknown = sorted(set(options) - StepOptions.names())
    if unknown:
        raise DefinitionError(
            f"unknown step option(s) {', '.join(unknown)}; known: {', '.join(sorted(StepOptions.names()))}",
            step=step_name,
        )
    merged = {**dataclasses.asdict(base or StepOptions()), **options}
    checks: dict[str, tuple[type | tuple[type, ...], str]] = {
        "cache": (bool, "True or False"),
        "cache_version": ((str, type(None)), "a string or None"),
        "retries": (int, "a non-negative integer"),
        "retry_delay": ((int, float), "a non-negative number of seconds"),
        "retry_backoff": ((int, float), "a number >= 1"),
        "allow_pickle": (bool, "True or False"),
        "materializers": (dict, "a dict of output name to materializer name"),
        "timeout": ((int, float, type(None)), "a positive number of seconds or None"),
    }
    for key, (kind, expected) in checks.items():
        value = merged[key]
        bad_bool = key not in ("cache", "allow_pickle") and isinstance(value, bool)
        if not isinstance(value, kind) or bad_bool:
            raise DefinitionError(f"option {key} must be {expected}, got {value!r}", step=step_name)
    if merged["timeout"] is not None and merged["timeout"] <= 0:
        raise DefinitionError(f"option timeout must be positive, got {merged['timeout']!r}", step=step_name)
    if merged["retries"] < 0 or merged["retry_delay"] < 0 or merged["retry_backoff"] < 1:
        raise DefinitionError(
            "retries and retry_delay must be >= 0 and retry_backoff >= 1", step=step_name
        )
    merged["materializers"] = dict(merged["materializers"])
    return StepOptions(**merged)


def _parse_outputs(func: Callable[..., Any], step_name: str) -> tuple[OutputSpec, ...]:
    annotation = inspect.signature(func).return_annotation
    if isinstance(annotation, str):
        # Postponed annotations (``from __future__ import annotations``) often name types
        # imported only for type checkers, so read the text instead of evaluating it.
        return _outputs_from_text(annotation, step_name)
    if annotation is None or annotation is type(None):
        return ()
    if annotation is inspect.Signature.empty:
        return (OutputSpec(DEFAULT_OUTPUT),)
    if typing.get_origin(annotation) is tuple:
        members = typing.get_args(annotation)
        if members and members[-1] is not Ellipsis and any(_annotated_name(m) for m in members):
            return _unique_outputs(
                [
                    OutputSpec(_annotated_name(m) or f"output_{i}", type=_type_text(m))
                    for i, m in enumerate(members)
                ],
                step_name,
            )
    return (OutputSpec(_annotated_name(annotation) or DEFAULT_OUTPUT, type=_type_text(annotation)),)


def _outputs_from_text(text: str, step_name: str) -> tuple[OutputSpec, ...]:
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise DefinitionError(
            f"return annotation {text!r} is not valid Python", step=step_name
        ) from None
    if isinstance(node, ast.Constant) and node.value is None:
        return ()
    if _subscript_of(node, "tuple", "Tuple"):
        assert isinstance(node, ast.Subscript)
        members = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        is_variadic = (
            bool(members)
            and isinstance(members[-1], ast.Constant)
            and members[-1].value is Ellipsis
        )
        parsed = [_annotated_text(m) for m in members]
        if members and not is_variadic and any(name for name, _ in parsed):
            return _unique_outputs(
                [
                    OutputSpec(name or f"output_{i}", type=kind)
                    for i, (name, kind) in enumerate(parsed)
                ],
                step_name,
            )
    name, kind = _annotated_text(node)
    return (OutputSpec(name or DEFAULT_OUTPUT, type=kind),)


def _subscript_of(node: ast.expr, *names: str) -> bool:
    if not isinstance(node, ast.Subscript):
        return False
    value = node.value
    base = (
        value.attr
        if isinstance(value, ast.Attribute)
        else value.id
        if isinstance(value, ast.Name)
        else ""
    )
    return base in names


def _annotated_text(node: ast.expr) -> tuple[str | None, str]:
    """(output name, type text) of ``Annotated[T, "name"]`` written as source text."""
    if (
        _subscript_of(node, "Annotated")
        and isinstance(node, ast.Subscript)
        and isinstance(node.slice, ast.Tuple)
    ):
        first, *extras = node.slice.elts
        kind = (
            first.value
            if isinstance(first, ast.Constant) and isinstance(first.value, str)
            else ast.unparse(first)
        )
        for extra in extras:
            if isinstance(extra, ast.Constant) and isinstance(extra.value, str):
                return _check_output_name(extra.value), kind
        return None, kind
    return None, ast.unparse(node)


def _unique_outputs(outputs: list[OutputSpec], step_name: str) -> tuple[OutputSpec, ...]:
    names = [o.name for o in outputs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DefinitionError(f"two outputs are named {', '.join(duplicates)}", step=step_name)
    return tuple(outputs)


def _check_output_name(name: str) -> str:
    if not name.isidentifier():
        raise DefinitionError(f"output name {name!r} must be a Python identifier")
    return name


def _annotated_name(annotation: Any) -> str | None:
    if typing.get_origin(annotation) is typing.Annotated:
        for extra in annotation.__metadata__:
            if isinstance(extra, str):
                return _check_output_name(extra)
    return None


def _type_text(annotation: Any) -> str | None:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, typing.ForwardRef):
        return annotation.__forward_arg__
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type):
        return f"{annotation.__module__}.{annotation.__qualname__}"
    return str(annotation) if annotation is not inspect.Signature.empty else None


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
    ) -> Pipeline[P]:
        """A copy with run configuration: a YAML file or dict (keys ``parameters``, ``cache``,
        ``steps: {name: {parameters: ..., cache: ..., retries: ...}}``, ``orchestrator``),
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
            self.func.__module__, self.func.__qualname__, inspect.getsourcefile(self.func)
        )
        spec = PipelineSpec(
            name=self.name, parameters=params, steps=tuple(tracer.steps.values()), source=source
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

        if _tracer.get() is not None:
            raise DefinitionError(
                f"pipeline '{self.name}' cannot be called inside another pipeline"
            )
        spec, functions = self._trace(args, kwargs)
        stack = active_stack(orchestrator=self.config.get("orchestrator"))
        run_id = stack.orchestrator.run(spec, stack.settings, functions=functions)
        if self.model is not None:
            from headrace.models.registry import register_run

            register_run(stack.settings, self.model, run_id)
        return Client(settings=stack.settings).run(run_id)

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


# -- run configuration -----------------------------------------------------------------------


def load_run_config(config: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Read a YAML run config (or check a dict) and validate its keys."""
    if isinstance(config, Mapping):
        return _validate_run_config(config, "run config")
    path = Path(config)
    if not path.is_file():
        raise ConfigError(f"run config {path} does not exist")
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return _validate_run_config(data, str(path))


def _validate_run_config(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    unknown = sorted(set(data) - _RUN_CONFIG_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_RUN_CONFIG_KEYS))}"
        )
    for key in ("parameters", "steps", "orchestrator"):
        if key in data and not isinstance(data[key], Mapping):
            raise ConfigError(f"{where}: '{key}' must be a mapping")
    if "cache" in data and not isinstance(data["cache"], bool):
        raise ConfigError(f"{where}: 'cache' must be true or false")
    for step_name, options in dict(data.get("steps", {})).items():
        if not isinstance(options, Mapping):
            raise ConfigError(f"{where}: steps.{step_name} must be a mapping")
        bad = sorted(set(options) - _STEP_CONFIG_KEYS)
        if bad:
            raise ConfigError(
                f"{where}: steps.{step_name} has unknown key(s) {', '.join(bad)}; "
                f"known: {', '.join(sorted(_STEP_CONFIG_KEYS))}"
            )
        if "parameters" in options and not isinstance(options["parameters"], Mapping):
            raise ConfigError(f"{where}: steps.{step_name}.parameters must be a mapping")
    return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in data.items()}


def _merge_config(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if key == "steps":
            steps = {k: dict(v) for k, v in dict(merged.get("steps", {})).items()}
            for step_name, options in value.items():
                current = steps.setdefault(step_name, {})
                for option, option_value in options.items():
                    if option == "parameters":
                        current["parameters"] = {**current.get("parameters", {}), **option_value}
                    else:
                        current[option] = option_value
            merged["steps"] = steps
        elif key in ("parameters", "orchestrator"):
            merged[key] = {**merged.get(key, {}), **value}
        else:
            merged[key] = value
    return merged
