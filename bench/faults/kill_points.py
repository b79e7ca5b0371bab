"""Named kill points for the kill harness: SIGKILL this process at a precise moment.

``install("NAME:N")`` wraps one internal function of headrace so that its N-th call
kills the process with SIGKILL (a real kill -9, nothing is cleaned up). ``install("count")``
only counts the calls, so a calibration run tells the harness how many there are;
``install("none")`` kills nowhere. Whatever the spec, the process prints ``started`` on
stdout as soon as its run is recorded, so the harness can time a kill from there. The
points:

=========================  =============================================================
``tmp-write``              half-way through writing a temp file of the artifact store
``before-rename``          a data file is complete in ``tmp/``, not yet renamed into place
``manifest-before-rename`` every file of an object is in place, its manifest is not
``manifest-after-rename``  the object exists, no artifact version points at it yet
``in-commit``              a metadata write transaction is about to COMMIT
``after-step-commit``      a step run was committed as completed, the run goes on
``before-run-finish``      every step completed, the run's own status is not yet written
=========================  =============================================================

Only this benchmark's child process calls ``install``; nothing here changes headrace.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

POINTS = (
    "tmp-write",
    "before-rename",
    "manifest-before-rename",
    "manifest-after-rename",
    "in-commit",
    "after-step-commit",
    "before-run-finish",
)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class Counter:
    """Counts calls per point; kills at the ``target`` call of ``point`` (0: never)."""

    def __init__(self, point: str | None, target: int) -> None:
        self.point = point
        self.target = target
        self.counts = dict.fromkeys(POINTS, 0)
        self._lock = threading.Lock()

    def hit(self, point: str) -> bool:
        """Count a call; True if this is the one to die at."""
        with self._lock:
            self.counts[point] += 1
            return point == self.point and self.counts[point] == self.target


def install(spec: str) -> Counter:
    """``NAME:N``, ``count`` or ``none``; returns the counter."""
    _announce_start()
    if spec == "none":
        return Counter(None, 0)
    name, _, nth = spec.partition(":")
    if spec != "count" and name not in POINTS:
        raise SystemExit(f"unknown kill point {spec!r}; known: {', '.join(POINTS)}")
    counter = Counter(None if spec == "count" else name, int(nth or 1))
    _wrap_writes(counter)
    _wrap_renames(counter)
    _wrap_commits(counter)
    _wrap_steps(counter)
    return counter


def _wrap_writes(counter: Counter) -> None:
    # Imported first so that it keeps the real function for hashing inputs and reads.
    import headrace.store.artifacts  # noqa: F401
    from headrace.store import backends

    real = backends.copy_hashing

    def copy(source: BinaryIO, target: BinaryIO) -> tuple[int, str]:
        if counter.hit("tmp-write"):
            data = source.read()
            target.write(data[: len(data) // 2])
            target.flush()
            die()
        return real(source, target)

    backends.copy_hashing = copy  # the backends' writes look it up at call time


def _wrap_renames(counter: Counter) -> None:
    from headrace.store.artifacts import MANIFEST_SUFFIX

    real = os.replace

    def replace(src: Any, dst: Any, **kwargs: Any) -> None:
        target = os.fspath(dst)
        in_store = f"{os.sep}objects{os.sep}" in str(target)
        manifest = str(target).endswith(MANIFEST_SUFFIX)
        if in_store and not manifest and counter.hit("before-rename"):
            die()
        if in_store and manifest and counter.hit("manifest-before-rename"):
            die()
        real(src, dst, **kwargs)
        if in_store and manifest and counter.hit("manifest-after-rename"):
            die()

    os.replace = replace


def _wrap_commits(counter: Counter) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Connection, Engine

    def before_commit(conn: Connection) -> None:
        # Only write transactions (BEGIN IMMEDIATE on SQLite); reads commit too.
        if conn.get_execution_options().get("headrace_sqlite_begin", "IMMEDIATE") != "IMMEDIATE":
            return
        if counter.hit("in-commit"):
            die()

    event.listen(Engine, "commit", before_commit)


def _wrap_steps(counter: Counter) -> None:
    from headrace.runner import scheduler as local
    from headrace.store.metadata.store import SqlMetadataStore as MetadataStore

    real_finish_step = MetadataStore.finish_step_run

    def finish_step_run(self: MetadataStore, step_run_id: str, **kwargs: Any) -> Any:
        result = real_finish_step(self, step_run_id, **kwargs)
        if kwargs.get("status") == "completed" and counter.hit("after-step-commit"):
            die()
        return result

    MetadataStore.finish_step_run = finish_step_run  # type: ignore[method-assign]

    real_finish_run: Callable[..., None] = local.finish_run

    def finish_run(stores: Any, run_id: str, **kwargs: Any) -> None:
        if kwargs.get("status") == "completed" and counter.hit("before-run-finish"):
            die()
        real_finish_run(stores, run_id, **kwargs)

    local.finish_run = finish_run


def _announce_start() -> None:
    from headrace.runner import scheduler as local

    real_start_run: Callable[..., str] = local.start_run

    def start_run(*args: Any, **kwargs: Any) -> str:
        run_id = real_start_run(*args, **kwargs)
        print("started", flush=True)
        return run_id

    local.start_run = start_run
