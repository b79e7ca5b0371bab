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
        raise DefinitionError(
            f"option timeout must be positive, got {merged['timeout']!r}", step=step_name
        )
    if merged["retries"] < 0 or merged["retry_delay"] < 0 or merged["retry_backoff"] < 1:
        raise DefinitionError(
            "retries and retry_delay must be >= 0 and retry_backoff >= 1", step=step_name
        )
    merged["materializers"] = dict(merged["materializers"])
    return StepOptions(**merged)
