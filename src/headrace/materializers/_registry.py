"""Which materializer handles a value: a registry keyed by qualified type names.

Types are matched by *name* (``"pandas.DataFrame"``), never by importing them, so
choosing a materializer for a dict does not import pandas. A type's entry is, in order
of precedence: a :func:`register` call, a plugin's entry point in the
``headrace.materializers`` group (discovered on first lookup, cached), a built-in.
Materializer classes are named by ``"module:Class"`` strings and imported on first use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from headrace.errors import MaterializerError
from headrace.materializers._imports import import_spec
from headrace.materializers.base import Materializer

log = logging.getLogger("headrace")

ENTRY_POINT_GROUP = "headrace.materializers"
_PKG = "headrace.materializers"

BUILTIN_MATERIALIZERS: dict[str, str] = {
    "json": f"{_PKG}._json:JSONMaterializer",
    "bytes": f"{_PKG}._bytes:BytesMaterializer",
    "html": f"{_PKG}._text:HTMLMaterializer",
    "markdown": f"{_PKG}._text:MarkdownMaterializer",
    "numpy": f"{_PKG}._numpy:NumpyMaterializer",
    "pandas": f"{_PKG}._pandas:PandasMaterializer",
    "arrow": f"{_PKG}._arrow:ArrowMaterializer",
    "sklearn": f"{_PKG}._sklearn:SklearnMaterializer",
    "matplotlib": f"{_PKG}._matplotlib:MatplotlibMaterializer",
    "pydantic": f"{_PKG}._pydantic:PydanticMaterializer",
    "dataclass": f"{_PKG}._dataclass:DataclassMaterializer",
    "pickle": f"{_PKG}._pickle:PickleMaterializer",
}

BUILTIN_TYPES: dict[str, str] = {
    **dict.fromkeys(
        [
            f"builtins.{t}"
            for t in ("NoneType", "bool", "int", "float", "str", "list", "tuple", "dict")
        ],
        "json",
    ),
    "builtins.bytes": "bytes",
    "builtins.bytearray": "bytes",
    f"{_PKG}.HTMLString": "html",
    f"{_PKG}.MarkdownString": "markdown",
    f"{_PKG}.PNGImage": "matplotlib",
    "numpy.ndarray": "numpy",
    "numpy.generic": "numpy",
    "pandas.DataFrame": "pandas",
    "pandas.Series": "pandas",
    "pandas.core.frame.DataFrame": "pandas",
    "pandas.core.series.Series": "pandas",
    "pyarrow.lib.Table": "arrow",
    "sklearn.base.BaseEstimator": "sklearn",
    "matplotlib.figure.Figure": "matplotlib",
    "pydantic.main.BaseModel": "pydantic",
}

Spec = str | type[Any]
"""A materializer name (``"numpy"``), a ``"module:Class"`` string, or a class."""


def type_name(obj_or_type: object) -> str:
    """``module.QualName`` of a class, or of the class of a value."""
    cls = obj_or_type if isinstance(obj_or_type, type) else type(obj_or_type)
    return f"{cls.__module__}.{cls.__qualname__}"


_qualified = type_name


@dataclass(frozen=True, slots=True)
class PluginEntry:
    """One entry point of the ``headrace.materializers`` group."""

    type_name: str
    spec: str
    distribution: str


def discover_entry_points() -> list[PluginEntry]:
    from importlib.metadata import entry_points

    found = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        label = f"{dist.name} {dist.version}" if dist is not None else "an unknown distribution"
        found.append(PluginEntry(ep.name, ep.value, label))
    return found


class Registry:
    """Type names and materializer names to materializers; thread-safe, lazy."""

    def __init__(
        self, discover: Callable[[], Iterable[PluginEntry]] = discover_entry_points
    ) -> None:
        self._lock = threading.RLock()
        self._discover = discover
        self._named: dict[str, Spec] = dict(BUILTIN_MATERIALIZERS)
        self._instances: dict[str, Materializer] = {}
        self._user_types: dict[str, Spec] = {}
        self._plugins: dict[str, PluginEntry] | None = None
        self._resolved: dict[str, str] = {}  # type name -> materializer name

    # -- registration ------------------------------------------------------------------

    def register(self, type_name: str, materializer: Spec) -> None:
        if not isinstance(type_name, str) or not type_name:
            raise MaterializerError(f"register() needs a qualified type name, got {type_name!r}")
        if isinstance(materializer, type):
            self._check_class(materializer, f"the class given for '{type_name}'")
        elif not isinstance(materializer, str) or not materializer:
            raise MaterializerError(
                f"register('{type_name}', ...) needs a materializer name, a 'module:Class' "
                f"string or a class, got {materializer!r}"
            )
        with self._lock:
            if isinstance(materializer, type):
                self._bind(materializer.name, materializer)
            self._user_types[type_name] = materializer
            self._resolved.clear()

    def registrations(self) -> dict[str, str]:
        """The registrations made in this process, as plain strings (type name ->
        materializer name or ``module:Class``): sent with step tasks, so a step run in
        another process sees what the driver registered."""
        with self._lock:
            return {
                type_name: spec
                if isinstance(spec, str)
                else f"{spec.__module__}:{spec.__qualname__}"
                for type_name, spec in self._user_types.items()
            }

    def apply(self, registrations: dict[str, str]) -> None:
        """Make the registrations of another process (see :meth:`registrations`) here."""
        for type_name, spec in registrations.items():
            with self._lock:
                current = self._user_types.get(type_name)
            if current is not None and (
                current == spec
                or (
                    not isinstance(current, str)
                    and f"{current.__module__}:{current.__qualname__}" == spec
                )
            ):
                continue
            self.register(type_name, spec)

    # -- lookups -----------------------------------------------------------------------

    def get(self, name: str) -> Materializer:
        with self._lock:
            if name not in self._named:
                self._load_everything_lazy()
            if name not in self._named:
                known = ", ".join(sorted(self._named))
                raise MaterializerError(f"unknown materializer '{name}' (known: {known})")
            return self._instance(name)

    def for_type(self, type_name: str) -> Materializer | None:
        """The materializer registered for exactly this type name, if any."""
        with self._lock:
            cached = self._resolved.get(type_name)
            if cached is not None:
                return self._instance(cached)
            spec = self._user_types.get(type_name)
            origin = f"registered for '{type_name}'"
            if spec is None:
                plugin = self._plugin_table().get(type_name)
                if plugin is not None:
                    spec, origin = (
                        plugin.spec,
                        f"plugin from {plugin.distribution} for '{type_name}'",
                    )
            if spec is None:
                spec = BUILTIN_TYPES.get(type_name)
            if spec is None:
                return None
            name = self._name_of(spec, origin)
            self._resolved[type_name] = name
            return self._instance(name)

    # -- internals ---------------------------------------------------------------------

    def _plugin_table(self) -> dict[str, PluginEntry]:
        if self._plugins is None:
            table: dict[str, PluginEntry] = {}
            try:
                entries = list(self._discover())
            except Exception as exc:  # broken installed metadata must not break headrace
                log.warning("could not list %s entry points: %s", ENTRY_POINT_GROUP, exc)
                entries = []
            for entry in entries:
                if entry.type_name in table:
                    log.warning(
                        "materializer plugins from %s and %s both claim '%s'; using the first",
                        table[entry.type_name].distribution,
                        entry.distribution,
                        entry.type_name,
                    )
                    continue
                table[entry.type_name] = entry
            self._plugins = table
        return self._plugins

    def _name_of(self, spec: Spec, origin: str) -> str:
        """The materializer name a type entry stands for, importing its class if needed."""
        if isinstance(spec, type):
            return str(spec.name)
        if ":" not in spec:
            if spec not in self._named:
                self._load_everything_lazy()
            if spec not in self._named:
                raise MaterializerError(f"unknown materializer '{spec}' {origin}")
            return spec
        try:
            cls = import_spec(spec)
        except Exception as exc:
            raise MaterializerError(
                f"materializer '{spec}' ({origin}) could not be imported: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        self._check_class(cls, f"'{spec}' ({origin})")
        self._bind(cls.name, cls)
        return str(cls.name)

    def _load_everything_lazy(self) -> None:
        """Import every lazily named class, so that their names become known; one that
        fails is skipped here and reported when a value actually needs it."""
        pending: list[tuple[Spec, str]] = [
            (spec, f"registered for '{t}'") for t, spec in self._user_types.items()
        ]
        pending += [
            (p.spec, f"plugin from {p.distribution} for '{t}'")
            for t, p in self._plugin_table().items()
        ]
        for spec, origin in pending:
            if isinstance(spec, str) and ":" in spec:
                try:
                    self._name_of(spec, origin)
                except MaterializerError as exc:
                    log.debug("skipping %s", exc)

    def _bind(self, name: str, cls: type[Any]) -> None:
        current = self._named.get(name)
        if current is None or current is cls:
            self._named[name] = cls
            return
        if isinstance(current, str) and current == f"{cls.__module__}:{cls.__qualname__}":
            return
        raise MaterializerError(
            f"materializer name '{name}' of {cls.__module__}.{cls.__qualname__} is already "
            f"used by {current if isinstance(current, str) else type_name(current)}; names "
            "identify how stored artifacts are loaded, so they must be unique"
        )

    def _instance(self, name: str) -> Materializer:
        instance = self._instances.get(name)
        if instance is not None:
            return instance
        spec = self._named[name]
        try:
            cls = import_spec(spec) if isinstance(spec, str) else spec
            instance = cls()
        except Exception as exc:
            raise MaterializerError(
                f"materializer '{name}' could not be created: {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(instance, Materializer):
            raise MaterializerError(f"materializer '{name}' lacks save() or load()")
        self._instances[name] = instance
        return instance

    @staticmethod
    def _check_class(cls: Any, what: str) -> None:
        if not isinstance(cls, type):
            raise MaterializerError(f"{what} is not a class")
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise MaterializerError(f"{what} has no 'name' (a non-empty str class attribute)")
        if not callable(getattr(cls, "save", None)) or not callable(getattr(cls, "load", None)):
            raise MaterializerError(
                f"{what} must define save(obj, folder) and load(folder, type_name)"
            )


# -- the process-wide registry and the public functions over it ----------------------------

REGISTRY = Registry()


def register(type_name: str | type[Any], materializer: Spec) -> None:
    """Use ``materializer`` for values whose type (or a base class) is ``type_name``.

    ``materializer`` is a materializer name (``"numpy"``), a ``"module:Class"`` string
    imported on first use, or a class with a ``name`` attribute. Registrations take
    precedence over plugins and built-ins. ``type_name`` may also be the class itself.
    """
    REGISTRY.register(
        _qualified(type_name) if isinstance(type_name, type) else type_name, materializer
    )


def registrations() -> dict[str, str]:
    """This process's registrations, as strings a step task carries."""
    return REGISTRY.registrations()


def apply_registrations(values: dict[str, str]) -> None:
    REGISTRY.apply(values)


def get(name: str) -> Materializer:
    """The materializer recorded as ``name``; MaterializerError if there is none."""
    return REGISTRY.get(name)


def select(obj: Any, *, override: str | None = None, allow_pickle: bool = False) -> Materializer:
    """The materializer for ``obj``.

    ``override`` (a materializer name) wins. Otherwise the classes of ``type(obj).__mro__``
    are looked up by name, most specific first; a materializer may decline a value it
    cannot store faithfully (a dict holding an array, an array of objects) and the walk
    goes on. Then dataclass instances and JSON values are recognised by their structure,
    and pickle is the last resort, only with ``allow_pickle=True``.
    """
    if override is not None:
        return REGISTRY.get(override)
    declined: dict[str, str] = {}
    for cls in type(obj).__mro__:
        candidate = REGISTRY.for_type(type_name(cls))
        if candidate is None or candidate.name in declined:
            continue
        reason = _unsupported_reason(candidate, obj)
        if reason is None:
            return candidate
        declined[candidate.name] = reason
    for name, applies in (("dataclass", _is_dataclass_instance), ("json", _is_json_builtin)):
        if name in declined or not applies(obj):
            continue
        candidate = REGISTRY.get(name)
        reason = _unsupported_reason(candidate, obj)
        if reason is None:
            return candidate
        declined[name] = reason
    if allow_pickle:
        return REGISTRY.get("pickle")
    raise MaterializerError(_no_materializer_message(type_name(obj), declined))


def _is_dataclass_instance(obj: Any) -> bool:
    import dataclasses

    return dataclasses.is_dataclass(obj) and not isinstance(obj, type)


def _is_json_builtin(obj: Any) -> bool:
    return obj is None or isinstance(obj, (bool, int, float, str, list, tuple, dict))


def _unsupported_reason(materializer: Materializer, obj: Any) -> str | None:
    check = getattr(materializer, "unsupported_reason", None)
    if check is None:
        return None
    try:
        reason = check(obj)
    except Exception as exc:
        return f"could not be checked ({type(exc).__name__}: {exc})"
    return None if reason is None else str(reason)


def _no_materializer_message(name: str, declined: dict[str, str]) -> str:
    lines = [f"no materializer can store a value of type '{name}'."]
    lines += [f"  {m}: {reason}" for m, reason in declined.items()]
    lines.append(
        "To store it: register a materializer for the type with "
        f"headrace.materializers.register('{name}', 'your_package.module:YourMaterializer'); "
        "or name one for this output with @step(materializers={'<output>': '<name>'}); "
        "or opt into pickle with @step(allow_pickle=True) "
        "(unpickling runs code, so do that only for data you trust)."
    )
    return "\n".join(lines)
