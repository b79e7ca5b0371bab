"""Capture the source of steps and pipelines defined where no file holds them.

A function typed into a notebook cell (or any interactive session) lives in ``__main__``
and in a cell "file" that no other process can read. So that such a step can run in a
child process, be resumed from the command line or reproduced later, its definition is
captured as a small self-contained module: the imports it needs, the simple constants it
reads, and the source of every function, class, step and pipeline of the same session
it refers to (recursively, dependencies first). The spec records that text in the
step's :class:`~headrace.spec.types.FunctionRef`, and the step runner rebuilds the
module from it (:func:`headrace.runner.functions.load_source`).

Only names the definitions use are captured, never a cell's other statements, so
rebuilding never re-runs a pipeline or a slow cell. A global that is neither importable
nor a simple constant nor a definition (a DataFrame made in a cell, say) cannot be
captured: the module lists it in a comment and the step fails with a NameError naming it
where it is rebuilt.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import os
import sys
import textwrap
import types
from collections.abc import Callable
from typing import Any

HEADER = "# captured by headrace from an interactive session"
_CONSTANT_TYPES = (int, float, str, bool, bytes, type(None))


def needs_capture(func: Callable[..., Any]) -> bool:
    """True for a function whose source is not in a file another process can import:
    defined in a notebook cell, or rebuilt from an earlier capture."""
    try:
        file = inspect.getsourcefile(func)
    except TypeError:
        return False
    return file is None or not os.path.isfile(file)


def capture_source(func: Callable[..., Any]) -> str | None:
    """A module's source that defines ``func`` (by its name) and what it refers to; None
    when its own source cannot be read (a function built with exec or a bare REPL)."""
    collector = _Collector(getattr(func, "__module__", None))
    if not collector.visit(func, func.__name__):
        return None
    return collector.render()


class _Collector:
    def __init__(self, module: str | None) -> None:
        self.module = module
        self.imports: dict[str, str] = {}  # bound name -> import statement
        self.constants: dict[str, str] = {}
        self.definitions: dict[str, str] = {}  # name -> source, dependencies first
        self.missing: dict[str, str] = {}
        self.visiting: set[str] = set()

    def visit(self, obj: Any, name: str) -> bool:
        target = getattr(obj, "func", obj)  # a Step or Pipeline wraps the user's function
        source = _source(target)
        if source is None:
            return False
        self.visiting.add(name)
        tree = ast.parse(source)
        local = _bound_inside(tree)
        globals_ns: dict[str, Any] = getattr(target, "__globals__", None) or vars(
            sys.modules.get(self.module or "", types.ModuleType("_"))
        )
        for ref in sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - local):
            if ref in self.visiting or ref in self.definitions or ref in self.imports:
                continue
            if ref in self.constants or ref in self.missing or ref not in globals_ns:
                continue
            self._add(ref, globals_ns[ref])
        if name != target.__name__ and target.__name__ not in self.definitions:
            source += f"\n{name} = {target.__name__}\n"
        self.definitions[name] = source
        return True

    def _add(self, name: str, value: Any) -> None:
        if getattr(builtins, name, _MISSING) is value:
            return
        if isinstance(value, types.ModuleType):
            self.imports[name] = _import_module(value.__name__, name)
            return
        if _is_constant(value):
            self.constants[name] = f"{name} = {value!r}"
            return
        target = getattr(value, "func", value)
        home = getattr(target, "__module__", None)
        if home == self.module and (inspect.isfunction(target) or inspect.isclass(target)):
            if not self.visit(value, name):
                self.missing[name] = "its source cannot be read"
            return
        statement = _import_object(value, name)
        if statement is None:
            self.missing[name] = f"a {type(value).__name__} made in the session"
        else:
            self.imports[name] = statement

    def render(self) -> str:
        lines = [HEADER]
        if self.missing:
            for name, why in sorted(self.missing.items()):
                lines.append(f"# not captured: {name} ({why})")
        lines += sorted(set(self.imports.values()))
        lines += [self.constants[k] for k in sorted(self.constants)]
        body = "\n".join(lines) + "\n"
        for source in self.definitions.values():
            body += "\n\n" + source.rstrip() + "\n"
        return body


def _source(target: Any) -> str | None:
    try:
        return textwrap.dedent(inspect.getsource(target))
    except (OSError, TypeError):
        pass
    if inspect.isclass(target):
        return _class_from_cells(target.__name__)
    return None


def _class_from_cells(name: str) -> str | None:
    """The newest ``class NAME`` of an IPython session's cells: before Python 3.13,
    ``inspect`` cannot find the source of a class defined in ``__main__``."""
    if "IPython" not in sys.modules:
        return None
    shell = sys.modules["IPython"].get_ipython()
    cells = shell.user_ns.get("In", []) if shell is not None else []
    for cell in reversed(cells):
        try:
            tree = ast.parse(
                shell.transform_cell(cell) if hasattr(shell, "transform_cell") else cell
            )
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name == name:
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                lines = (
                    shell.transform_cell(cell) if hasattr(shell, "transform_cell") else cell
                ).splitlines()
                return "\n".join(lines[first - 1 : node.end_lineno]) + "\n"
    return None


def _bound_inside(tree: ast.Module) -> set[str]:
    """Names bound inside the definition (parameters, assignments, comprehension
    variables): they are not globals, even when a global of that name exists."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias) and node not in _top_level_aliases(tree):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
        elif (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and node not in tree.body
        ):
            bound.add(node.name)
    return bound


def _top_level_aliases(tree: ast.Module) -> list[ast.alias]:
    return [a for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom) for a in n.names]


def _is_constant(value: Any) -> bool:
    if isinstance(value, _CONSTANT_TYPES):
        return not isinstance(value, float) or value == value  # NaN has no literal
    if isinstance(value, tuple | list | frozenset):
        return all(_is_constant(v) for v in value)
    if isinstance(value, dict):
        return all(_is_constant(k) and _is_constant(v) for k, v in value.items())
    return False


def _import_module(module: str, name: str) -> str:
    if module == name:
        return f"import {module}"
    return f"import {module} as {name}"


def _import_object(value: Any, name: str) -> str | None:
    """``from MODULE import QUALNAME as NAME`` that gives back ``value``, preferring the
    top-level package (``from headrace import step``); None when there is none."""
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    candidates: list[tuple[str, str]] = []
    if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname:
        root = module.split(".")[0]
        if "." not in qualname:
            candidates.append((root, qualname))
        candidates.append((module, qualname))
    if isinstance(module, str):
        candidates.append((module.split(".")[0], name))
        candidates.append((module, name))
    for mod_name, attribute in candidates:
        mod = sys.modules.get(mod_name)
        if mod is None or mod_name == "__main__":
            continue
        try:
            found = _attribute(mod, attribute)
        except AttributeError:
            continue
        if found is value:
            alias = "" if attribute == name else f" as {name}"
            head = attribute.split(".")[0]
            if "." in attribute:
                return None if head != name else f"from {mod_name} import {head}"
            return f"from {mod_name} import {attribute}{alias}"
    return None


def _attribute(module: Any, dotted: str) -> Any:
    value = module
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


_MISSING = object()
