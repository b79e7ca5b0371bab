"""Importing by name: heavy libraries on first use, classes named in stored artifacts."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from headrace.errors import MaterializerError, MissingExtraError


def require(module: str, *, package: str, extra: str, purpose: str) -> ModuleType:
    """Import an optional dependency or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            raise MissingExtraError(package, extra, purpose=purpose) from exc
        raise


def import_spec(spec: str) -> Any:
    """The object named by ``"package.module:Attr.Path"``."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise MaterializerError(f"'{spec}' is not of the form 'package.module:ClassName'")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    return target


def import_qualified(qualified: str) -> Any:
    """The class named ``module.QualName`` as :func:`headrace.materializers.type_name`
    writes it; the module is the longest importable prefix."""
    if "<locals>" in qualified.split("."):
        raise MaterializerError(
            f"class '{qualified}' is defined inside a function, so it cannot be imported when "
            "the artifact is loaded; define it at module level"
        )
    parts = qualified.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            target: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
                continue
            raise
        try:
            for part in parts[cut:]:
                target = getattr(target, part)
        except AttributeError:
            break
        return target
    raise MaterializerError(
        f"class '{qualified}' cannot be imported: is the package that defines it installed, "
        "and was it renamed or moved since the artifact was saved?"
    )


def is_importable(cls: type) -> bool:
    """Whether the qualified name of ``cls`` imports back to ``cls`` itself."""
    try:
        return import_qualified(f"{cls.__module__}.{cls.__qualname__}") is cls
    except Exception:
        return False
