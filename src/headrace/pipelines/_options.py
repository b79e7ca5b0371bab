"""Step options: checked once, when a step is decorated or configured."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any

from headrace.errors import DefinitionError
from headrace.spec.types import (
    StepOptions,
)

if typing.TYPE_CHECKING:
    pass

_STEP_CONFIG_KEYS = StepOptions.names() | {"parameters"}


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
    if merged.get("resources") is None:
        merged["resources"] = {}
    checks: dict[str, tuple[type | tuple[type, ...], str]] = {
        "cache": (bool, "True or False"),
        "cache_version": ((str, type(None)), "a string or None"),
        "retries": (int, "a non-negative integer"),
        "retry_delay": ((int, float), "a non-negative number of seconds"),
        "retry_backoff": ((int, float), "a number >= 1"),
        "allow_pickle": (bool, "True or False"),
        "materializers": (dict, "a dict of output name to materializer name"),
        "timeout": ((int, float, type(None)), "a positive number of seconds or None"),
        "resources": (dict, 'a dict such as {"cpu": 2, "memory": "4GB", "gpu": 1}'),
    }
    for key, (kind, expected) in checks.items():
        value = merged[key]
        bad_bool = key not in ("cache", "allow_pickle") and isinstance(value, bool)
        if not isinstance(value, kind) or bad_bool:
            raise DefinitionError(f"option {key} must be {expected}, got {value!r}", step=step_name)
    if merged["timeout"] is not None and merged["timeout"] <= 0:
        raise DefinitionError(
            f"option timeout must be positive, got {merged['timeout']!r}", step=step_name
        )
    if merged["retries"] < 0 or merged["retry_delay"] < 0 or merged["retry_backoff"] < 1:
        raise DefinitionError(
            "retries and retry_delay must be >= 0 and retry_backoff >= 1", step=step_name
        )
    merged["materializers"] = dict(merged["materializers"])
    merged["resources"] = _check_resources(dict(merged["resources"]), step_name)
    return StepOptions(**merged)


_MEMORY_UNITS = {
    "": 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}


def _check_resources(resources: dict[str, Any], step_name: str) -> dict[str, Any]:
    """``cpu`` and ``gpu`` are non-negative numbers, ``memory`` a byte count or a size
    such as ``"4GB"``; any other name is a custom resource (a non-negative number)."""
    checked: dict[str, Any] = {}
    for key, value in resources.items():
        if not isinstance(key, str) or not key:
            raise DefinitionError(f"resource names must be strings, got {key!r}", step=step_name)
        if key == "memory" and isinstance(value, str):
            memory_bytes(value, step_name)
            checked[key] = value
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise DefinitionError(
                f"resource {key} must be a non-negative number, got {value!r}", step=step_name
            )
        checked[key] = value
    return checked


def memory_bytes(value: str | int | float, step_name: str | None = None) -> int:
    """``"4GB"`` -> 4_000_000_000, ``"512MiB"`` -> 536_870_912."""
    if isinstance(value, int | float):
        return int(value)
    import re

    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", value)
    unit = match.group(2).upper() if match else ""
    if match is None or unit not in _MEMORY_UNITS:
        raise DefinitionError(
            f"resource memory {value!r} is not a size such as '512MB' or '4GB'", step=step_name
        )
    return int(float(match.group(1)) * _MEMORY_UNITS[unit])
