"""Lifecycle hooks: how trackers, lineage emitters and user plugins observe runs.

Built on pluggy. A plugin is any object (or module) with methods named like the hook
specs below, marked with :data:`hookimpl`::

    from headrace.hooks import hookimpl

    class Printer:
        @hookimpl
        def step_end(self, step, status, metadata, metrics, outputs, cache_hit, error):
            print(step.name, status)

Plugins come from the ``headrace.hooks`` entry-point group, from the stack's tracker,
and from :func:`register` (tests, notebooks). Run hooks are called in the driver; step
and artifact hooks in whichever process runs the step (a thread, a child process, a Ray
worker), so a plugin must be importable there: one registered with :func:`register` is
passed to step processes by its import path (``module:attribute``).

A plugin that raises is logged once per hook call, naming its distribution, and never
breaks a run's recording — unless it is the tracker of a stack that says
``tracking_required: true``, whose failure fails the step.
"""

from __future__ import annotations

import functools
import importlib
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pluggy

from headrace.errors import ConfigError

PROJECT = "headrace"
GROUP = "headrace.hooks"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
log = logging.getLogger("headrace.hooks")


# -- the events (plain data, the same in every process) ---------------------------------


@dataclass(frozen=True, slots=True)
class RunEvent:
    run_id: str
    pipeline: str
    parameters: dict[str, Any]
    stack: dict[str, Any] = field(default_factory=dict)
    started_at: float = 0.0


@dataclass(frozen=True, slots=True)
class StepEvent:
    run_id: str
    step_run_id: str
    name: str  # the step run's name: ``train``, ``train_2``, ``train[3]``, ``prep.clean``
    pipeline: str
    parameters: dict[str, Any]
    attempt: int = 1
    map_index: int | None = None
    started_at: float = 0.0


@dataclass(frozen=True, slots=True)
class ArtifactEvent:
    run_id: str
    step_run_id: str
    step: str
    output: str
    name: str  # the artifact name
    version: int
    artifact_version_id: str
    hash: str
    uri: str
    type: str
    materializer: str
    size: int
    metadata: dict[str, Any] = field(default_factory=dict)


# -- the specs ----------------------------------------------------------------------------


class HookSpecs:
    @hookspec
    def run_start(self, run: RunEvent) -> None:
        """A run was recorded and is about to schedule its steps (driver)."""

    @hookspec
    def run_end(self, run: RunEvent, status: str, error: str | None) -> None:
        """A run ended: ``completed``, ``failed`` or ``cancelled`` (driver)."""

    @hookspec
    def step_start(self, step: StepEvent) -> None:
        """A step attempt is about to call the user's function (where the step runs)."""

    @hookspec
    def step_end(
        self,
        step: StepEvent,
        status: str,
        metadata: Mapping[str, Any],
        metrics: Sequence[Any],
        outputs: Mapping[str, ArtifactEvent],
        cache_hit: bool,
        error: str | None,
    ) -> dict[str, Any] | None:
        """A step ended (``completed``, ``failed``, ``cancelled``; a cache hit is
        ``completed`` with ``cache_hit``). ``metrics`` are the points it logged with
        ``log_metric`` (``headrace.store.records.MetricPoint``: name, value, step, time).
        A returned dict is recorded on the step run
        under ``links`` (an MLflow run id and URL, say)."""

    @hookspec
    def artifact_saved(self, artifact: ArtifactEvent) -> None:
        """A new artifact version was recorded."""

    @hookspec
    def failure(self, step: StepEvent, error: str) -> None:
        """A step attempt failed (``error`` is the traceback's text)."""


# -- the manager ----------------------------------------------------------------------------

_extra_lock = threading.Lock()
_extra: dict[str, object] = {}  # import path -> plugin, registered in this process


_generation = 0  # bumped by every register/unregister: the cache below keys on it
_built: dict[tuple[Any, ...], Hooks] = {}


def register(plugin: object, path: str | None = None) -> None:
    """Add a plugin for runs started in this process. ``path`` (``module:attribute``)
    lets step processes import the same plugin; it defaults to where the object lives
    when that can be found."""
    key = path or _import_path(plugin) or f"<local:{id(plugin)}>"
    global _generation
    with _extra_lock:
        _extra[key] = plugin
        _generation += 1


def unregister(plugin: object) -> None:
    global _generation
    with _extra_lock:
        _generation += 1
        for key, value in list(_extra.items()):
            if value is plugin:
                del _extra[key]


def registered_paths() -> list[str]:
    """Import paths of the plugins :func:`register`-ed here (sent with step tasks)."""
    with _extra_lock:
        return [key for key in _extra if not key.startswith("<local:")]


def _import_path(plugin: object) -> str | None:
    module = getattr(plugin, "__module__", None) if not isinstance(plugin, type) else None
    if isinstance(plugin, type(logging)):  # a module
        return f"{plugin.__name__}:"
    for name in (getattr(plugin, "__qualname__", None), getattr(plugin, "__name__", None)):
        if module and name and "<" not in name:
            return f"{module}:{name}"
    if module and module != "__main__":
        found = importlib.import_module(module)
        for name, value in vars(found).items():
            if value is plugin:
                return f"{module}:{name}"
    return None


def load_path(path: str) -> object:
    module_name, _, attribute = path.partition(":")
    try:
        value: Any = importlib.import_module(module_name)
        for part in filter(None, attribute.split(".")):
            value = getattr(value, part)
    except Exception as exc:
        raise ConfigError(f"hook plugin {path!r} cannot be imported: {exc}") from exc
    return value


class Hooks:
    """The plugins of one run (or one step task) and a safe way to call them."""

    def __init__(self, plugins: Sequence[tuple[str, object]], *, required: Sequence[str] = ()):
        self._manager = pluggy.PluginManager(PROJECT)
        self._manager.add_hookspecs(HookSpecs)
        self._origin: dict[int, str] = {}
        self._required = set(required)
        for origin, plugin in plugins:
            if self._manager.is_registered(plugin):
                continue
            try:
                self._manager.register(plugin, name=f"{origin}#{id(plugin)}")
            except (ValueError, pluggy.PluginValidationError) as exc:
                raise ConfigError(f"hook plugin from {origin} is not valid: {exc}") from exc
            self._origin[id(plugin)] = origin
        self.empty = not self._manager.get_plugins()

    def call(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call every plugin's ``hook``, each on its own, so one failure skips no other.
        Returns the plugins' non-None results."""
        if self.empty:
            return []
        results: list[Any] = []
        caller = getattr(self._manager.hook, hook)
        for impl in caller.get_hookimpls():
            try:
                value = impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as exc:
                origin = self._origin.get(id(impl.plugin), "unknown")
                if origin in self._required:
                    raise
                log.warning(
                    "hook %s of plugin from %s failed: %s: %s",
                    hook,
                    origin,
                    type(exc).__name__,
                    exc,
                )
                continue
            if value is not None:
                results.append(value)
        return results


@functools.cache
def _entry_point_plugins() -> tuple[tuple[str, object], ...]:
    from importlib.metadata import entry_points

    found: list[tuple[str, object]] = []
    for entry in entry_points(group=GROUP):
        dist = entry.dist.name if entry.dist is not None else "an unknown distribution"
        try:
            plugin = entry.load()
        except Exception as exc:
            log.warning(
                "hook plugin '%s' from the distribution '%s' failed to load: %s: %s",
                entry.name,
                dist,
                type(exc).__name__,
                exc,
            )
            continue
        found.append((f"distribution '{dist}'", plugin() if isinstance(plugin, type) else plugin))
    return tuple(found)


def hooks_for(
    *,
    tracker: Mapping[str, Any] | None = None,
    paths: Sequence[str] = (),
    local: bool = True,
) -> Hooks:
    """The plugins for a run or a step task: entry points, the stack's tracker, plugins
    named by import path (from the driver), and (``local``) those registered here.
    Without a tracker the answer is reused until a plugin is (un)registered."""
    if not tracker:
        key = (tuple(paths), local, _generation)
        cached = _built.get(key)
        if cached is None:
            cached = _build_hooks(None, paths, local)
            if len(_built) > 32:
                _built.clear()
            _built[key] = cached
        return cached
    return _build_hooks(tracker, paths, local)


def _build_hooks(tracker: Mapping[str, Any] | None, paths: Sequence[str], local: bool) -> Hooks:
    plugins: list[tuple[str, object]] = list(_entry_point_plugins())
    required: list[str] = []
    if tracker:
        from headrace import flavors

        flavor = str(tracker.get("flavor"))
        options = dict(tracker.get("options") or {})
        is_required = bool(options.pop("tracking_required", False))
        try:
            from headrace.home import resolve_references

            plugin = flavors.create(
                "tracker", flavor, resolve_references(options, where="tracker option")
            )
        except Exception as exc:
            if is_required:
                raise
            log.warning("tracker '%s' could not be started: %s", flavor, exc)
        else:
            origin = f"tracker '{flavor}'"
            plugins.append((origin, plugin))
            if is_required:
                required.append(origin)
    with _extra_lock:
        here = dict(_extra) if local else {}
    for path in paths:
        if path in here:
            continue
        plugins.append((f"plugin '{path}'", load_path(path)))
    plugins.extend((f"plugin '{key}'", plugin) for key, plugin in here.items())
    return Hooks(plugins, required=required)
