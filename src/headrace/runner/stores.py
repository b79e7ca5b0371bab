"""Open store handles, shared per process: opening a metadata store costs a connection
pool and a schema check, so every step of every run in a process reuses one."""

from __future__ import annotations

import atexit
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

from headrace.home import StoreSettings, ensure_home
from headrace.store.artifacts import ArtifactStore, open_artifact_store
from headrace.store.metadata import MetadataStore

_MAX_OPEN = 8


@dataclass(frozen=True, slots=True)
class Stores:
    metadata: MetadataStore
    artifacts: ArtifactStore


_lock = threading.Lock()
_open: OrderedDict[tuple[str, str, int], Stores] = OrderedDict()


def open_stores(settings: StoreSettings) -> Stores:
    key = (settings.metadata_url, settings.artifact_uri, os.getpid())
    with _lock:
        stores = _open.get(key)
        if stores is not None:
            _open.move_to_end(key)
            return stores
        if settings.home and settings.metadata_url.startswith("sqlite:///"):
            from pathlib import Path

            ensure_home(Path(settings.home))
        metadata = MetadataStore.open(settings.metadata_url)
        try:
            artifacts = open_artifact_store(settings.artifact_uri)
        except BaseException:
            metadata.close()
            raise
        stores = Stores(metadata=metadata, artifacts=artifacts)
        _open[key] = stores
        while len(_open) > _MAX_OPEN:
            _, evicted = _open.popitem(last=False)
            evicted.metadata.close()
        return stores


def close_stores() -> None:
    """Close every handle this process opened (tests, and interpreter exit)."""
    with _lock:
        while _open:
            _, stores = _open.popitem()
            if stores.metadata is not None:
                stores.metadata.close()


atexit.register(close_stores)
