"""Calling a materializer: every failure becomes a MaterializerError that says which
materializer, which type and where, with the original exception as ``__cause__``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from headrace.errors import HeadraceError, MaterializerError
from headrace.materializers._json_codec import json_safe
from headrace.materializers._registry import get, type_name
from headrace.materializers.base import Materializer


def save(obj: Any, folder: str | Path, materializer: Materializer | str) -> dict[str, Any]:
    """Write ``obj`` into ``folder`` (created if missing) and return its metadata:
    ``type`` and ``materializer`` plus what the materializer extracts, all JSON values."""
    chosen = get(materializer) if isinstance(materializer, str) else materializer
    name = type_name(obj)
    try:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        extracted = chosen.save(obj, path)
        metadata = json_safe(dict(extracted or {}))
        json.dumps(metadata, allow_nan=False)
    except Exception as exc:
        raise MaterializerError(
            f"materializer '{chosen.name}' could not save a value of type '{name}': "
            f"{_describe(exc)}"
        ) from exc
    return {"type": name, "materializer": chosen.name, **metadata}


def load(folder: str | Path, name: str, type_name: str) -> Any:
    """Read back what materializer ``name`` wrote into ``folder`` for a value of type
    ``type_name``."""
    try:
        materializer = get(name)
    except MaterializerError:
        # A materializer that registers itself when its package is imported (reports of
        # headrace.data, say) is unknown to a fresh process until that module is loaded:
        # import the module of the stored type, then ask again.
        if not _import_type_module(type_name):
            raise
        materializer = get(name)
    try:
        return materializer.load(Path(folder), type_name)
    except Exception as exc:
        hint = "" if isinstance(exc, HeadraceError) else " (are its files damaged or truncated?)"
        raise MaterializerError(
            f"materializer '{name}' could not load a value of type '{type_name}' from "
            f"{folder}{hint}: {_describe(exc)}"
        ) from exc


def _describe(exc: Exception) -> str:
    return str(exc) if isinstance(exc, HeadraceError) else f"{type(exc).__name__}: {exc}"


def _import_type_module(type_name: str) -> bool:
    import importlib

    parts = type_name.split(".")
    for end in range(len(parts) - 1, 0, -1):
        try:
            importlib.import_module(".".join(parts[:end]))
        except ImportError:
            continue
        return True
    return False
