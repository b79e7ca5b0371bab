"""Faults injected into a child process by the fault tests (imported there, before the
command line runs): the metadata database goes away in the middle of a run."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from headrace.store.metadata._engine import Database
from headrace.store.metadata.store import SqlMetadataStore as MetadataStore


def metadata_unreachable(after_completed: int, *, before_commit: bool) -> None:
    """Every connection the metadata store asks for fails, as when its file vanished,
    from the moment the ``after_completed``-th step run is recorded as completed
    (``before_commit``: the moment that step asks to record it, so its outputs are
    stored but never committed)."""
    broken = threading.Event()
    completed: list[str] = []
    real_finish = MetadataStore.finish_step_run
    real_connect = Database.connect

    def finish_step_run(self: MetadataStore, step_run_id: str, **kwargs: Any) -> Any:
        last = kwargs.get("status") == "completed" and len(completed) + 1 == after_completed
        if last and before_commit:
            broken.set()
        result = real_finish(self, step_run_id, **kwargs)
        if kwargs.get("status") == "completed":
            completed.append(step_run_id)
            if last:
                broken.set()
        return result

    @contextmanager
    def connect(self: Database, *, write: bool) -> Iterator[Connection]:
        if broken.is_set():
            raise sa_exc.OperationalError(
                "BEGIN", {}, sqlite3.OperationalError("unable to open database file")
            )
        with real_connect(self, write=write) as conn:
            yield conn

    MetadataStore.finish_step_run = finish_step_run  # type: ignore[method-assign]
    Database.connect = connect  # type: ignore[method-assign]
