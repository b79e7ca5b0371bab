"""A step's outputs, read from its return annotation."""

from __future__ import annotations

import ast
import inspect
import typing
from collections.abc import Callable
from typing import Any

from headrace.errors import DefinitionError
from headrace.spec.types import (
    OutputSpec,
)

if typing.TYPE_CHECKING:
    pass

DEFAULT_OUTPUT = "output"


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
