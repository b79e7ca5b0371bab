"""Run configuration: YAML files or dicts that set parameters, cache flags and step options."""

from __future__ import annotations

import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from headrace.errors import ConfigError
from headrace.home import load_yaml_mapping
from headrace.spec.types import (
    StepOptions,
)

if typing.TYPE_CHECKING:
    pass

_STEP_CONFIG_KEYS = StepOptions.names() | {"parameters"}
_RUN_CONFIG_KEYS = frozenset({"parameters", "cache", "steps", "orchestrator", "stack"})


# -- run configuration -----------------------------------------------------------------------


def load_run_config(config: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Read a YAML run config (or check a dict) and validate its keys."""
    if isinstance(config, Mapping):
        return _validate_run_config(config, "run config")
    path = Path(config)
    if not path.is_file():
        raise ConfigError(f"run config {path} does not exist")
    return _validate_run_config(load_yaml_mapping(path), str(path))


def _validate_run_config(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    unknown = sorted(set(data) - _RUN_CONFIG_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_RUN_CONFIG_KEYS))}"
        )
    for key in ("parameters", "steps", "orchestrator"):
        if key in data and not isinstance(data[key], Mapping):
            raise ConfigError(f"{where}: '{key}' must be a mapping")
    if "stack" in data and (not isinstance(data["stack"], str) or not data["stack"]):
        raise ConfigError(f"{where}: 'stack' must be the name of a registered stack")
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
