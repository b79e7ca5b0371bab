"""Check step inputs and outputs against their declared types.

A declared type is the annotation as text (what the spec records, e.g. ``builtins.int``,
``pandas.core.frame.DataFrame``, ``list[int]``, ``"pd.DataFrame"``, ``int | None``). Only
the outer type is checked — ``list[int]`` asks for a list, not for ints inside it —
because that is what decides the materializer and what a reader gets back. The numeric
tower counts (an ``int`` or a ``numpy.int64`` is a valid ``float``).

Free, never checked: no annotation, ``Any``, ``object``, type variables, and any name
that cannot be resolved here (a type imported only for type checkers) — except a dotted
name whose top-level package is installed but not imported, which no value of this
process can be an instance of. Nothing heavy is imported to check.
"""

from __future__ import annotations

import ast
import builtins
import collections.abc
import importlib.util
import numbers
import sys
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from headrace.errors import TypeMismatchError

#: Module aliases as code usually writes them, for annotations kept as text.
_ALIASES = {"pd": "pandas", "np": "numpy", "pl": "polars", "pa": "pyarrow", "npt": "numpy.typing"}
_NUMERIC: dict[type, type] = {
    int: numbers.Integral,
    float: numbers.Real,
    complex: numbers.Complex,
}
_FREE = frozenset({"Any", "typing.Any", "object", "builtins.object", "typing_extensions.Any"})

Check = Callable[[Any], bool]


def check_value(
    value: Any,
    declared_type_text: str | None,
    what: str,
    *,
    namespace: Mapping[str, Any] | None = None,
) -> None:
    """Raise TypeMismatchError naming ``what``, the declared and the actual type when
    ``value`` does not match ``declared_type_text``; names resolve in ``namespace``
    (the step function's globals) first."""
    if not declared_type_text or declared_type_text.strip() in _FREE:
        return
    check = _parse(declared_type_text, namespace or {})
    if check is None or check(value):
        return
    actual = type(value)
    raise TypeMismatchError(
        f"{what} is declared as {declared_type_text} but is a "
        f"{actual.__module__}.{actual.__qualname__} ({_brief(value)})"
    )


def check_outputs(
    outputs: Sequence[tuple[str, str | None]],
    result: Any,
    *,
    namespace: Mapping[str, Any] | None = None,
) -> None:
    """Check a step's return value against its declared outputs ``(name, type text)``.
    A result that does not split into the declared outputs is left for the step runner
    to report."""
    if not outputs:
        return
    if len(outputs) == 1:
        values = [result]
    elif isinstance(result, tuple) and len(result) == len(outputs):
        values = list(result)
    else:
        return
    for (name, declared), value in zip(outputs, values, strict=True):
        check_value(value, declared, f"output '{name}'", namespace=namespace)


def check_inputs(func: Callable[..., Any], values: Mapping[str, Any]) -> None:
    """Check the values loaded for a step's inputs against the function's annotations."""
    namespace = getattr(func, "__globals__", {})
    try:
        annotations = dict(getattr(func, "__annotations__", {}) or {})
    except Exception:  # an object whose annotations cannot be read: nothing to check
        return
    for name, value in values.items():
        if name in annotations:
            check_value(
                value, annotation_text(annotations[name]), f"input '{name}'", namespace=namespace
            )


def annotation_text(annotation: Any) -> str | None:
    """The text of an annotation object, in the form the spec records for outputs."""
    if annotation is None or annotation is type(None):
        return "None"
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, typing.ForwardRef):
        return annotation.__forward_arg__
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return f"{annotation.__module__}.{annotation.__qualname__}"
    return str(annotation)


# -- resolving the text --------------------------------------------------------------------


def _parse(text: str, namespace: Mapping[str, Any]) -> Check | None:
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return None
    return _node_check(node, namespace)


def _node_check(node: ast.expr, ns: Mapping[str, Any]) -> Check | None:
    if isinstance(node, ast.Constant):
        if node.value is None:
            return lambda v: v is None
        if isinstance(node.value, str):  # a quoted forward reference inside the text
            return _parse(node.value, ns)
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _any_of([_node_check(node.left, ns), _node_check(node.right, ns)])
    if isinstance(node, ast.Subscript):
        return _subscript_check(node, ns)
    if isinstance(node, ast.Name | ast.Attribute):
        target = _resolve(node, ns)
        return _object_check(target)
    return None


def _subscript_check(node: ast.Subscript, ns: Mapping[str, Any]) -> Check | None:
    base = _resolve(node.value, ns)
    args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
    if base is typing.Union:
        return _any_of([_node_check(a, ns) for a in args])
    if base is typing.Optional:
        return _any_of([_node_check(args[0], ns), lambda v: v is None])
    if base is typing.Annotated:
        return _node_check(args[0], ns)
    if base is typing.Literal:
        allowed = [a.value for a in args if isinstance(a, ast.Constant)]
        if len(allowed) != len(args):
            return None
        return lambda v: any(v == a and type(v) is type(a) for a in allowed)
    if base is _UNRESOLVED:
        return None
    origin = typing.get_origin(base) or base
    return _object_check(origin)


class _Unresolved:
    pass


_UNRESOLVED: Any = _Unresolved()
_NEVER: Any = object()  # a type whose package is not imported: nothing here is one


def _resolve(node: ast.expr, ns: Mapping[str, Any]) -> Any:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return _UNRESOLVED
    parts.append(node.id)
    parts.reverse()
    head, rest = parts[0], parts[1:]
    if head in ns:
        return _walk(ns[head], rest)
    if not rest:
        for source in (builtins, typing, collections.abc):
            if hasattr(source, head):
                return getattr(source, head)
        return _UNRESOLVED
    module_name = _ALIASES.get(head, head)
    # The longest imported module prefix, then attributes: pandas.core.frame.DataFrame.
    dotted = [*module_name.split("."), *rest]
    for cut in range(len(dotted) - 1, 0, -1):
        module = sys.modules.get(".".join(dotted[:cut]))
        if module is not None:
            found = _walk(module, dotted[cut:])
            if found is _UNRESOLVED and cut < len(dotted) - 1:
                return _NEVER if _installed(".".join(dotted[: cut + 1])) else _UNRESOLVED
            return found
    return _NEVER if _installed(dotted[0]) else _UNRESOLVED


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _walk(value: Any, attributes: list[str]) -> Any:
    for attribute in attributes:
        value = getattr(value, attribute, _UNRESOLVED)
        if value is _UNRESOLVED:
            return _UNRESOLVED
    return value


def _object_check(target: Any) -> Check | None:
    if target is _NEVER:
        return lambda v: False
    if target is _UNRESOLVED or target is Any or target is object:
        return None
    if target is None or target is type(None):
        return lambda v: v is None
    if not isinstance(target, type):
        return None  # a TypeVar, NewType, alias or special form: not checked
    expected = _NUMERIC.get(target, target)

    def check(value: Any) -> bool:
        try:
            return isinstance(value, expected) or _same_class_by_name(type(value), target)
        except TypeError:  # e.g. a Protocol that is not runtime-checkable
            return True

    return check


def _same_class_by_name(actual: type, declared: type) -> bool:
    """A class reloaded under the same module and name (a re-executed notebook cell)."""
    return any(
        c.__qualname__ == declared.__qualname__ and c.__module__ == declared.__module__
        for c in actual.__mro__
    )


def _any_of(checks: list[Check | None]) -> Check | None:
    if any(c is None for c in checks):
        return None
    present = [c for c in checks if c is not None]
    return lambda v: any(c(v) for c in present)


def _brief(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        return "unprintable"
    return text if len(text) <= 40 else text[:37] + "..."
