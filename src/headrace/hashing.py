"""Fingerprints of code and cache keys.

A step's code fingerprint covers its own source and the source of the functions (and
simple constants) of the same module it refers to, so editing a helper invalidates the
cache but reformatting, comments and decorator options do not: the source is parsed and
re-rendered from the AST. It depends on the text only, never on line numbers or object
ids, so it is stable across processes, kernel restarts and machines.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
from collections.abc import Callable, Mapping
from typing import Any

from headrace.spec.canonical import canonical_json, sha256_hex

_CONSTANT_TYPES = (int, float, str, bool, bytes, type(None))


def code_fingerprint(func: Callable[..., Any]) -> str:
    """SHA-256 over the normalized source of ``func`` and its same-module helpers."""
    parts: dict[str, str] = {}
    _collect(func, parts, seen=set())
    return sha256_hex(canonical_json(parts))


def _collect(func: Callable[..., Any], parts: dict[str, str], seen: set[int]) -> None:
    func = inspect.unwrap(func)
    if id(func) in seen:
        return
    seen.add(id(func))
    name = getattr(func, "__qualname__", repr(func))
    tree = _function_ast(func)
    if tree is None:
        # No source (a builtin, or a lambda typed into a bare REPL): fall back to bytecode.
        code = getattr(func, "__code__", None)
        parts[name] = sha256_hex(code.co_code) if code is not None else name
        return
    parts[name] = ast.unparse(tree)
    module = getattr(func, "__module__", None)
    global_ns: Mapping[str, Any] = getattr(func, "__globals__", {})
    for ref in sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}):
        if ref not in global_ns:
            continue
        value = global_ns[ref]
        target = getattr(value, "func", value)  # a Step object wraps the user's function
        if isinstance(target, types.FunctionType) and target.__module__ == module:
            _collect(target, parts, seen)
        elif isinstance(value, _CONSTANT_TYPES) or (
            isinstance(value, tuple) and all(isinstance(v, _CONSTANT_TYPES) for v in value)
        ):
            parts[f"{name}:{ref}"] = repr(value)


def _function_ast(func: Callable[..., Any]) -> ast.AST | None:
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return None
    try:
        module = ast.parse(source)
    except SyntaxError:
        return None
    for node in module.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node.decorator_list = []
            return node
    return module


def cache_key(components: Mapping[str, Any]) -> str:
    """Hash of the cache-key components (code, parameters, input hashes, materializers, version)."""
    return sha256_hex(canonical_json(components))


def explain_cache_miss(previous: Mapping[str, Any] | None, current: Mapping[str, Any]) -> str:
    """Say, in words, which part of the key changed since the previous run of the step."""
    if not previous:
        return "no earlier run of this step"
    reasons: list[str] = []
    if previous.get("code") != current.get("code"):
        reasons.append("code changed")
    if previous.get("cache_version") != current.get("cache_version"):
        reasons.append(
            f"cache_version changed ({previous.get('cache_version')!r} -> {current.get('cache_version')!r})"
        )
    reasons += _diff_mapping(
        "parameter", previous.get("parameters", {}), current.get("parameters", {})
    )
    reasons += _diff_mapping(
        "input", previous.get("inputs", {}), current.get("inputs", {}), short=True
    )
    reasons += _diff_mapping(
        "artifact name for output", previous.get("artifacts", {}), current.get("artifacts", {})
    )
    reasons += _diff_mapping(
        "materializer for output",
        previous.get("materializers", {}),
        current.get("materializers", {}),
    )
    return "; ".join(reasons) if reasons else "key matches an earlier run whose outputs are gone"


def _diff_mapping(
    label: str, old: Mapping[str, Any], new: Mapping[str, Any], short: bool = False
) -> list[str]:
    out: list[str] = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            out.append(f"{label} {key} added")
        elif key not in new:
            out.append(f"{label} {key} removed")
        elif canonical_json(old[key]) != canonical_json(new[key]):
            before, after = old[key], new[key]
            if short:
                out.append(
                    f"{label} {key} changed (content {str(before)[:12]} -> {str(after)[:12]})"
                )
            else:
                out.append(f"{label} {key} changed ({_brief(before)} -> {_brief(after)})")
    return out


def _brief(value: Any) -> str:
    text = canonical_json(value)
    return text if len(text) <= 40 else text[:37] + "..."
