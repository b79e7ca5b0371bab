"""Stacks: named sets of components (orchestrator, artifact store, metadata store,
tracker), registered in the home's metadata store and switched without touching code.

The home's own settings (``config.yaml`` and the environment) are the stack ``default``.
A registered stack is selected by ``HEADRACE_STACK=NAME`` for one process, by
``headrace stack set NAME`` for the home (the name is kept in ``<home>/stack``), or by
``pipeline.with_options(stack="NAME")`` / ``Client(stack="NAME")`` for one call.

A stack's components are plain config::

    {"orchestrator": {"flavor": "local", "options": {"max_parallel": 2}},
     "artifacts": {"uri": "s3://bucket/prefix", "options": {"key": "${S3_KEY}"}},
     "metadata": {"url": "postgresql+psycopg://ci@db/headrace", "options": {}},
     "tracker": {"flavor": "mlflow", "options": {"tracking_uri": "http://..."}}}

Credentials are never stored in clear: an option whose name says it holds one
(``key``, ``secret``, ``password``, ``token``, ...) must be a ``${ENV_VAR}`` reference,
resolved in the process that opens the component.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headrace import flavors
from headrace.errors import ConfigError, StackNotFoundError
from headrace.home import StoreSettings, resolve_settings
from headrace.orchestrators import Orchestrator, load_orchestrator
from headrace.runner.scheduler import Reuse, Scheduler
from headrace.spec.types import PipelineSpec

if TYPE_CHECKING:
    from headrace.store.stores import Stores

DEFAULT = "default"
STACK_ENV = "HEADRACE_STACK"
ACTIVE_FILE = "stack"
COMPONENTS = ("orchestrator", "artifacts", "metadata", "tracker")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CREDENTIAL = re.compile(r"(^|_)(key|secret|password|passwd|token|credentials?)($|_)", re.I)
_REFERENCE_ONLY = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$|^secret:[A-Za-z0-9_.-]+$")


@dataclass(frozen=True, slots=True)
class Stack:
    settings: StoreSettings
    orchestrator: Orchestrator

    @property
    def name(self) -> str:
        return self.settings.stack or DEFAULT

    def run(
        self,
        spec: PipelineSpec,
        *,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        reuse: Mapping[str, Reuse] | None = None,
        origin_run_id: str | None = None,
        stores: Stores | None = None,
    ) -> str:
        """Run a spec on this stack: the driver's scheduler plans, the orchestrator
        executes. Returns the run id; a failed step raises its StepError."""
        return self.scheduler(
            spec, functions=functions, reuse=reuse, origin_run_id=origin_run_id, stores=stores
        ).run()

    def scheduler(
        self,
        spec: PipelineSpec,
        *,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        reuse: Mapping[str, Reuse] | None = None,
        origin_run_id: str | None = None,
        stores: Stores | None = None,
    ) -> Scheduler:
        from headrace.hooks import hooks_for
        from headrace.store.stores import open_stores

        return Scheduler(
            spec,
            self.settings,
            stores or open_stores(self.settings),
            self.orchestrator,
            hooks=hooks_for(tracker=self.settings.tracker),
            functions=functions,
            reuse=reuse,
            origin_run_id=origin_run_id,
            stack=describe(self.settings),
        )


def active_stack(
    home: str | os.PathLike[str] | None = None,
    *,
    stack: str | None = None,
    orchestrator: Mapping[str, Any] | None = None,
) -> Stack:
    """The stack a run uses; ``orchestrator`` overrides its orchestrator options for one
    run (e.g. ``{"max_parallel": 1}``, or ``{"flavor": "local", "isolation": "process"}``)."""
    settings = resolve_stack_settings(home, stack=stack)
    options = dict(settings.orchestrator)
    extra = dict(orchestrator or {})
    if "flavor" in extra and extra["flavor"] != options.get("flavor", "local"):
        options = {}  # another flavor: the stack's options were for its own
    options.update(extra)
    return Stack(settings=settings, orchestrator=load_orchestrator(options))


def active_stack_name(home: Path) -> str:
    """``HEADRACE_STACK``, else what ``headrace stack set`` chose, else ``default``."""
    name = os.environ.get(STACK_ENV)
    if name:
        return name
    try:
        chosen = (home / ACTIVE_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return DEFAULT
    return chosen or DEFAULT


def resolve_stack_settings(
    home: str | os.PathLike[str] | None = None, *, stack: str | None = None
) -> StoreSettings:
    """The settings of ``stack`` (default: the active one) of a home folder."""
    base = resolve_settings(home)
    assert base.home is not None
    name = stack or active_stack_name(Path(base.home))
    if name == DEFAULT:
        return base
    from headrace.store.stores import open_stores

    try:
        record = open_stores(base).metadata.get_stack(name)
    except StackNotFoundError:
        known = [s.name for s in open_stores(base).metadata.list_stacks()]
        how = f"{STACK_ENV}" if stack is None and os.environ.get(STACK_ENV) else "the stack"
        raise ConfigError(
            f"{how} names stack '{name}', which is not registered "
            f"(registered: {', '.join([DEFAULT, *known])})"
        ) from None
    return settings_of(base, name, record.components)


def settings_of(
    base: StoreSettings, name: str, components: Mapping[str, Mapping[str, Any]]
) -> StoreSettings:
    """Store settings for a stack: each component it names replaces the home's."""
    orchestrator = components.get("orchestrator")
    artifacts = components.get("artifacts")
    metadata = components.get("metadata")
    tracker = components.get("tracker")
    return StoreSettings(
        metadata_url=str(metadata["url"]) if metadata else base.metadata_url,
        artifact_uri=str(artifacts["uri"]) if artifacts else base.artifact_uri,
        home=base.home,
        orchestrator=(
            {"flavor": orchestrator["flavor"], **dict(orchestrator.get("options") or {})}
            if orchestrator
            else dict(base.orchestrator)
        ),
        metadata_options=dict(metadata.get("options") or {}) if metadata else {},
        artifact_options=dict(artifacts.get("options") or {}) if artifacts else {},
        tracker=(
            {"flavor": tracker["flavor"], "options": dict(tracker.get("options") or {})}
            if tracker
            else None
        ),
        stack=name,
    )


def register_stack(
    name: str,
    components: Mapping[str, Any],
    *,
    home: str | os.PathLike[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Check and store (or replace) the stack ``name`` in the home's metadata store, as
    ``headrace stack register`` does; returns the components as stored."""
    from headrace.store.stores import open_stores

    checked = validate_stack(name, components)
    open_stores(resolve_settings(home)).metadata.put_stack(name, checked)
    return checked


def validate_stack(name: str, components: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Check a stack before it is stored: the name, each component's flavor and options,
    credentials given as references, and every referenced environment variable set."""
    if not isinstance(name, str) or not _NAME.match(name) or name == DEFAULT:
        raise ConfigError(
            f"invalid stack name {name!r}: letters, digits, '_', '.', '-' (at most 64), "
            f"and not '{DEFAULT}'"
        )
    if not isinstance(components, Mapping):
        raise ConfigError(f"stack '{name}': components must be a mapping")
    unknown = sorted(set(components) - set(COMPONENTS))
    if unknown:
        raise ConfigError(
            f"stack '{name}': unknown component(s) {', '.join(unknown)}; known: {', '.join(COMPONENTS)}"
        )
    checked: dict[str, dict[str, Any]] = {}
    for kind, value in components.items():
        if not isinstance(value, Mapping):
            raise ConfigError(f"stack '{name}': component '{kind}' must be a mapping")
        checked[kind] = _check_component(name, kind, value)
    return checked


def _check_component(stack: str, kind: str, value: Mapping[str, Any]) -> dict[str, Any]:
    where = f"stack '{stack}', {kind}"
    locator = {"artifacts": "uri", "metadata": "url"}.get(kind)
    allowed = {"options", locator or "flavor"}
    extra = sorted(set(value) - allowed)
    if extra:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(extra)}")
    options = value.get("options") or {}
    if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
        raise ConfigError(f"{where}: options must be a mapping of names to values")
    _check_credentials(where, options)
    if locator is not None:
        target = value.get(locator)
        if not isinstance(target, str) or not target.strip():
            raise ConfigError(f"{where}: needs a {locator}")
        _check_credentials(where, {locator: target}, url=True)
        if kind == "artifacts":
            from headrace.store.artifacts import artifact_flavor

            flavor = artifact_flavor(target)
        else:
            flavor = flavors.scheme_of(target)
        factory = flavors.load(kind, flavor)
        flavors.check_options(kind, flavor, factory, options, positional=1)
        return {locator: target, "options": dict(options)}
    named = value.get("flavor")
    if not isinstance(named, str) or not named:
        raise ConfigError(f"{where}: needs a flavor")
    factory = flavors.load(kind, named)
    flavors.check_options(
        kind, named, factory, {k: v for k, v in options.items() if k != "tracking_required"}
    )
    return {"flavor": named, "options": dict(options)}


def _check_credentials(where: str, options: Mapping[str, Any], *, url: bool = False) -> None:
    from headrace.home import resolve_references

    for key, raw in options.items():
        if url:
            raw = str(raw)
            if isinstance(raw, str) and re.match(r"^[a-z0-9+.-]+://[^/@]*:[^/@${}]+@", raw, re.I):
                raise ConfigError(
                    f"{where}: the {key} holds a password; put it in an environment variable "
                    f"and write ${{VAR}} in its place"
                )
            continue
        if _CREDENTIAL.search(key) and not (isinstance(raw, str) and _REFERENCE_ONLY.match(raw)):
            raise ConfigError(
                f"{where}: option '{key}' holds a credential; give it as ${{ENV_VAR}} "
                "(the stack stores the name of the variable, never its value)"
            )
    # Every referenced variable must be set now, so a typo is found at registration.
    resolve_references(
        {k: v for k, v in options.items() if not str(v).startswith("secret:")}, where=where
    )


def describe(settings: StoreSettings) -> dict[str, Any]:
    """What a run records of its stack: flavors, locations and option names as given
    (references unresolved), with any password in a URL masked."""
    orchestrator = dict(settings.orchestrator)
    return {
        "name": settings.stack or DEFAULT,
        "orchestrator": {
            "flavor": orchestrator.pop("flavor", "local"),
            "options": orchestrator,
        },
        "artifacts": {"uri": settings.artifact_uri, "options": dict(settings.artifact_options)},
        "metadata": {
            "url": _mask(settings.metadata_url),
            "options": dict(settings.metadata_options),
        },
        "tracker": dict(settings.tracker) if settings.tracker else None,
    }


def _mask(url: str) -> str:
    return re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", url)
