"""Flavors: the implementations of each stack component, found through entry points.

A flavor is registered under the entry-point group ``headrace.flavors`` with the name
``KIND.FLAVOR`` (``orchestrator.ray``, ``artifacts.s3``, ``metadata.postgresql``), exactly
as a third-party package registers its own. Kinds:

=================  =========================================================================
``metadata``       ``factory(url, **options) -> MetadataStore``, chosen by the URL's scheme
``artifacts``      ``factory(uri, **options) -> ByteBackend``, chosen by the URI's scheme
                   (no flavor for a scheme: ``artifacts.fsspec``, any fsspec URL)
``orchestrator``   a class whose keyword arguments are its options
``tracker``        a hook plugin class whose keyword arguments are its options
``feature_store``  likewise
``model_deployer`` likewise
=================  =========================================================================

The built-in flavors are registered in ``pyproject.toml`` like any plugin; the table
:data:`BUILTIN` names them too, so that a source checkout that was never installed still
finds the defaults. Discovery happens on first use and is cached; a plugin that fails to
import raises :class:`~headrace.errors.ConfigError` naming its distribution, and only when
that flavor is asked for, so a broken plugin never breaks ``--help``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from headrace.errors import ConfigError

GROUP = "headrace.flavors"
KINDS = ("metadata", "artifacts", "orchestrator", "tracker", "feature_store", "model_deployer")

#: Built-in flavors, ``KIND.FLAVOR -> "module:attribute"``.
BUILTIN: dict[str, str] = {
    "metadata.sqlite": "headrace.store.metadata.store:SqlMetadataStore.from_url",
    "metadata.postgresql": "headrace.store.metadata.store:SqlMetadataStore.from_url",
    "artifacts.file": "headrace.store.backends:LocalBackend.from_uri",
    "artifacts.fsspec": "headrace.store.backends:FsspecBackend.from_uri",
    "orchestrator.local": "headrace.orchestrators.local:LocalOrchestrator",
}


@dataclass(frozen=True, slots=True)
class Flavor:
    """One registered flavor: where it comes from, loaded on demand."""

    kind: str
    name: str
    target: str  # "module:attribute"
    distribution: str  # who registered it ("headrace" for the built-ins)
    _entry: Any = None  # the importlib.metadata EntryPoint, when it came from one

    def load(self) -> Callable[..., Any]:
        try:
            if self._entry is not None:
                loaded: Callable[..., Any] = self._entry.load()
                return loaded
            module_name, _, attribute = self.target.partition(":")
            value: Any = importlib.import_module(module_name)
            for part in attribute.split("."):
                value = getattr(value, part)
            return value  # type: ignore[no-any-return]
        except Exception as exc:
            raise ConfigError(
                f"{self.kind} flavor '{self.name}' from the distribution '{self.distribution}' "
                f"failed to load ({self.target}): {type(exc).__name__}: {exc}"
            ) from exc


@functools.cache
def registered() -> dict[str, Flavor]:
    """Every flavor, ``KIND.FLAVOR -> Flavor``; entry points override the built-in table."""
    from importlib.metadata import entry_points

    found = {
        key: Flavor(key.split(".", 1)[0], key.split(".", 1)[1], target, "headrace")
        for key, target in BUILTIN.items()
    }
    for entry in entry_points(group=GROUP):
        kind, dot, name = entry.name.partition(".")
        if not dot or kind not in KINDS or not name:
            continue  # not ours to interpret; `headrace stack flavors` could list it
        dist = entry.dist.name if entry.dist is not None else "an unknown distribution"
        found[entry.name] = Flavor(kind, name, entry.value, dist, entry)
    return found


def names(kind: str) -> list[str]:
    return sorted(f.name for f in registered().values() if f.kind == kind)


def find(kind: str, name: str) -> Flavor:
    """The flavor ``name`` of ``kind``, or a ConfigError that lists the known ones."""
    if kind not in KINDS:
        raise ConfigError(f"unknown component kind '{kind}' (known: {', '.join(KINDS)})")
    flavor = registered().get(f"{kind}.{name}")
    if flavor is None:
        known = ", ".join(names(kind)) or "none"
        raise ConfigError(f"unknown {kind} flavor '{name}' (known: {known})")
    return flavor


def load(kind: str, name: str) -> Callable[..., Any]:
    """The factory of a flavor (imported on first use)."""
    return find(kind, name).load()


def create(kind: str, name: str, options: Mapping[str, Any], *args: Any) -> Any:
    """Build a component: ``factory(*args, **options)`` after checking the option names
    against the factory's signature, so a misspelt option is a clear error, not a
    TypeError from deep inside a plugin."""
    factory = load(kind, name)
    check_options(kind, name, factory, options, positional=len(args))
    try:
        return factory(*args, **options)
    except TypeError as exc:
        raise ConfigError(f"{kind} '{name}': {exc}") from exc


def check_options(
    kind: str,
    name: str,
    factory: Callable[..., Any],
    options: Mapping[str, Any],
    *,
    positional: int = 0,
) -> None:
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return  # a builtin or C callable: let it check for itself
    params = list(signature.parameters.values())[positional:]
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    accepted = {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ConfigError(
            f"{kind} flavor '{name}' takes no option {', '.join(repr(u) for u in unknown)} "
            f"(it takes: {', '.join(sorted(accepted)) or 'no options'})"
        )


def scheme_of(url: str) -> str:
    """The flavor name a store URL selects: its scheme without a driver suffix
    (``postgresql+psycopg://`` -> ``postgresql``); a plain path is ``file``."""
    if "://" not in url:
        return "file" if not url.startswith(("sqlite:", "file:")) else url.split(":", 1)[0]
    scheme = url.split("://", 1)[0].lower()
    return scheme.split("+", 1)[0]


def clear_cache() -> None:
    """Forget discovered flavors (after a ``pip install`` in the same process)."""
    registered.cache_clear()
