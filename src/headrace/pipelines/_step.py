"""``@step``: a plain function that becomes a pipeline step when called in a pipeline body."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any, Generic, ParamSpec, TypeVar, overload

from headrace.errors import DefinitionError
from headrace.hashing import code_fingerprint
from headrace.spec.types import (
    FunctionRef,
    StepOptions,
)

if typing.TYPE_CHECKING:
    pass
from headrace.pipelines._capture import capture_source, needs_capture
from headrace.pipelines._options import _make_options
from headrace.pipelines._outputs import _parse_outputs
from headrace.pipelines._tracing import _tracer

P = ParamSpec("P")
R = TypeVar("R")


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
        source = capture_source(self) if needs_capture(self.func) else None
        return FunctionRef(
            module=self.func.__module__, qualname=self.func.__qualname__, file=file, source=source
        )

    def with_options(self, **options: Any) -> Step[P, R]:
        """A copy of this step with some options changed (``cache``, ``retries``, ...)."""
        return Step(self.func, _make_options(self.name, options, base=self.options))

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        tracer = _tracer.get()
        if tracer is None:
            return self.func(*args, **kwargs)
        return tracer.add(self, args, dict(kwargs))  # type: ignore[no-any-return]

    def map(self, items: Any, /, **kwargs: Any) -> Any:
        """Run this step once per element of ``items``: inside a pipeline, a step output
        holding a list (its length known only at run time) or a literal list; the first
        parameter not given in ``kwargs`` receives each element. Outside a pipeline, a
        plain list of the function's results."""
        tracer = _tracer.get()
        if tracer is None:
            return [self.func(item, **kwargs) for item in items]
        return tracer.add(self, (), dict(kwargs), map_items=items)

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
    resources: Mapping[str, Any] | None = None,
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
