"""Opening the stores a :class:`~headrace.home.StoreSettings` names, through their flavors.

:func:`Stores.open` opens a fresh pair; :data:`shared` is the cache a process uses when
it is handed settings rather than stores (a pipeline call, a worker process that runs
many step tasks): opening a metadata store costs a connection pool and a schema check,
so every run and step of a process reuses one pair per settings. Anything that is given
its stores (``Client(metadata=..., artifacts=...)``, the scheduler) uses those instead.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from headrace import flavors
from headrace.home import StoreSettings, ensure_home, resolve_references
from headrace.store.artifacts import ArtifactStore, open_artifact_store
from headrace.store.protocols import MetadataStore


@dataclass(frozen=True, slots=True)
class Stores:
    metadata: MetadataStore
    artifacts: ArtifactStore

    @classmethod
    def open(cls, settings: StoreSettings) -> Stores:
        """Open both stores (options' ``${VAR}`` references resolved here, in this process)."""
        if settings.home and settings.metadata_url.startswith("sqlite:///"):
            ensure_home(Path(settings.home))
        metadata = open_metadata_store(settings)
        try:
            artifacts = open_artifact_store(
                settings.artifact_uri,
                storage_options=resolve_references(
                    settings.artifact_options, where="artifact store option"
                ),
            )
        except BaseException:
            metadata.close()
            raise
        return cls(metadata=metadata, artifacts=artifacts)

    def close(self) -> None:
        self.metadata.close()


def open_metadata_store(settings: StoreSettings) -> MetadataStore:
    """The ``metadata.<scheme>`` flavor of the settings' URL."""
    scheme = flavors.scheme_of(settings.metadata_url)
    options = resolve_references(settings.metadata_options, where="metadata store option")
    store: MetadataStore = flavors.create("metadata", scheme, options, settings.metadata_url)
    return store


class StoreCache:
    """Open stores keyed by where they point (and the process, so a fork opens its own)."""

    def __init__(self, max_open: int = 8) -> None:
        self._max_open = max_open
        self._lock = threading.Lock()
        self._open: OrderedDict[tuple[str, ...], Stores] = OrderedDict()

    def get(self, settings: StoreSettings) -> Stores:
        key = (settings.cache_key(), str(os.getpid()))
        with self._lock:
            stores = self._open.get(key)
            if stores is not None:
                self._open.move_to_end(key)
                return stores
            stores = Stores.open(settings)
            self._open[key] = stores
            while len(self._open) > self._max_open:
                _, evicted = self._open.popitem(last=False)
                evicted.close()
            return stores

    def close(self) -> None:
        """Close every pair this cache opened (tests, and interpreter exit)."""
        with self._lock:
            while self._open:
                _, stores = self._open.popitem()
                stores.close()


#: The process's cache, for callers that have settings and no stores.
shared = StoreCache()
atexit.register(shared.close)


def open_stores(settings: StoreSettings) -> Stores:
    """The process's shared stores for these settings (see :data:`shared`)."""
    return shared.get(settings)


def close_stores() -> None:
    shared.close()
