"""Where headrace keeps its data, and what the stores there are.

Resolution order (DESIGN §2): ``HEADRACE_HOME`` if set, else the nearest ``.headrace/``
folder from the working directory upwards (made by ``headrace init``), else a per-user
default. A home folder holds ``config.yaml`` (optional), ``headrace.db`` (SQLite
metadata) and ``artifacts/``. ``HEADRACE_METADATA_URL`` and ``HEADRACE_ARTIFACT_URI``
(or the same keys in config.yaml) point the stores elsewhere, e.g. at PostgreSQL.

Every string value in config.yaml may name environment variables: ``${VAR}`` is replaced
by the variable's value (a ConfigError naming the file, the key and the variable when it
is not set), ``${VAR:-default}`` by its value or ``default`` when it is unset or empty,
and ``$${`` is a literal ``${``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headrace.errors import ConfigError

HOME_ENV = "HEADRACE_HOME"
PROJECT_FOLDER = ".headrace"
CONFIG_FILE = "config.yaml"
CONFIG_KEYS = frozenset({"metadata_url", "artifact_uri", "orchestrator"})


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Everything a process needs to open the stores and run steps: plain JSON, so it
    can be sent to a subprocess or a remote worker. Option values may be ``${VAR}``
    references; they are resolved where a store is opened, never stored resolved."""

    metadata_url: str
    artifact_uri: str
    home: str | None = None
    orchestrator: dict[str, Any] = field(default_factory=dict)
    metadata_options: dict[str, Any] = field(default_factory=dict)
    artifact_options: dict[str, Any] = field(default_factory=dict)
    tracker: dict[str, Any] | None = None  # {"flavor": ..., "options": {...}}
    stack: str | None = None  # the registered stack these came from (None: the home's)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metadata_url": self.metadata_url,
            "artifact_uri": self.artifact_uri,
            "home": self.home,
            "orchestrator": dict(self.orchestrator),
            "metadata_options": dict(self.metadata_options),
            "artifact_options": dict(self.artifact_options),
            "tracker": dict(self.tracker) if self.tracker is not None else None,
            "stack": self.stack,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoreSettings:
        tracker = data.get("tracker")
        return cls(
            metadata_url=data["metadata_url"],
            artifact_uri=data["artifact_uri"],
            home=data.get("home"),
            orchestrator=dict(data.get("orchestrator") or {}),
            metadata_options=dict(data.get("metadata_options") or {}),
            artifact_options=dict(data.get("artifact_options") or {}),
            tracker=dict(tracker) if tracker is not None else None,
            stack=data.get("stack"),
        )

    def cache_key(self) -> str:
        """Equal for settings that open the same stores."""
        import json

        return json.dumps(
            [self.metadata_url, self.metadata_options, self.artifact_uri, self.artifact_options],
            sort_keys=True,
            default=str,
        )


_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def resolve_references(options: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    """Options with every ``${VAR}`` (or ``${VAR:-default}``) replaced by the environment
    variable's value, in this process. A missing variable is a ConfigError naming it."""

    def resolve(key: str, value: Any) -> Any:
        if isinstance(value, str):

            def substitute(match: re.Match[str]) -> str:
                name, default = match.group(1), match.group(2)
                found = os.environ.get(name)
                if found is None:
                    if default is not None:
                        return default
                    raise ConfigError(
                        f"{where} '{key}' names the environment variable {name}, which is not set"
                    )
                return found

            return _REFERENCE.sub(substitute, value)
        if isinstance(value, Mapping):
            return {k: resolve(f"{key}.{k}", v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(key, v) for v in value]
        return value

    return {key: resolve(key, value) for key, value in options.items()}


def user_default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "headrace"


def find_home(start: Path | None = None) -> tuple[Path, str]:
    """The home folder and how it was found (``HEADRACE_HOME``, ``project``, ``user default``)."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve(), HOME_ENV
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / PROJECT_FOLDER
        if candidate.is_dir():
            return candidate, "project"
    return user_default_home(), "user default"


def load_yaml_mapping(path: Path) -> dict[str, Any]:
    """A YAML file whose top level is a mapping (the home's config, run configs, stack
    files): one loader, so every such file fails the same clear way."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def read_config(home: Path) -> dict[str, Any]:
    path = home / CONFIG_FILE
    if not path.is_file():
        return {}
    data = load_yaml_mapping(path)
    unknown = sorted(set(data) - CONFIG_KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(CONFIG_KEYS))}"
        )
    expanded: dict[str, Any] = expand_variables(data, where=str(path))
    return expanded


_VARIABLE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def expand_variables(
    value: Any, *, where: str, environ: Mapping[str, str] | None = None, key: str = ""
) -> Any:
    """``value`` with ``${VAR}`` and ``${VAR:-default}`` replaced in every string it holds
    (keys stay as written); ConfigError naming ``where``, the key and the variable for an
    unset variable or a malformed reference."""
    env = os.environ if environ is None else environ
    if isinstance(value, dict):
        return {
            k: expand_variables(v, where=where, environ=env, key=f"{key}.{k}" if key else str(k))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            expand_variables(v, where=where, environ=env, key=f"{key}[{i}]")
            for i, v in enumerate(value)
        ]
    if not isinstance(value, str) or "$" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        body = match.group(1)
        name, sep, default = body.partition(":-")
        if not _VARIABLE_NAME.fullmatch(name):
            raise ConfigError(
                f"{where}: key '{key}': '${{{body}}}' is not a variable reference "
                "(use ${NAME} or ${NAME:-default})"
            )
        found = env.get(name)
        if sep:
            return found if found else default
        if found is None:
            raise ConfigError(
                f"{where}: key '{key}' uses ${{{name}}}, but the environment variable "
                f"{name} is not set (set it, or give a default: ${{{name}:-value}})"
            )
        return found

    return _VARIABLE.sub(substitute, value)


def resolve_settings(home: str | os.PathLike[str] | None = None) -> StoreSettings:
    """Settings for an explicit home folder, or the one :func:`find_home` picks."""
    folder = Path(home).expanduser().resolve() if home is not None else find_home()[0]
    config = read_config(folder)
    metadata_url = os.environ.get("HEADRACE_METADATA_URL") or config.get("metadata_url")
    artifact_uri = os.environ.get("HEADRACE_ARTIFACT_URI") or config.get("artifact_uri")
    orchestrator = config.get("orchestrator") or {}
    if not isinstance(orchestrator, dict):
        raise ConfigError(f"{folder / CONFIG_FILE}: 'orchestrator' must be a mapping")
    return StoreSettings(
        metadata_url=metadata_url or f"sqlite:///{folder / 'headrace.db'}",
        artifact_uri=artifact_uri or str(folder / "artifacts"),
        home=str(folder),
        orchestrator=dict(orchestrator),
    )


def ensure_home(folder: Path) -> None:
    """Create the home folder (for the embedded default stores) with a clear error if we can't."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the headrace home folder {folder}: {exc.strerror}"
        ) from exc
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"the headrace home folder {folder} is not writable")
