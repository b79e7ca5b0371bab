"""Step logs: what a step prints (stdout, stderr) and logs (``logging`` records),
captured per step run in whichever thread or process runs it, and stored in the
artifact store as the step runs.

``sys.stdout``/``sys.stderr`` are replaced once per process by routers that send each
write to the sink of the step running in the current thread (a context variable) and
on to the real stream, so the terminal still shows everything. A root ``logging``
handler does the same for records. A sink buffers and writes a numbered chunk to the
artifact store at most every :data:`FLUSH_SECONDS` (and when the step ends), so a step
killed mid-way keeps what it printed up to its last flush. Past :attr:`LogSink.cap`
bytes the rest is counted, not stored, and the step run records the cap and the count.
"""

from __future__ import annotations

import contextvars
import io
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, TextIO

from headrace.store.artifacts import ArtifactStore

FLUSH_SECONDS = 0.5
FLUSH_BYTES = 256 * 1024
DEFAULT_CAP = 10 * 1024 * 1024
CAP_ENV = "HEADRACE_LOG_CAP_BYTES"

_sink: contextvars.ContextVar[LogSink | None] = contextvars.ContextVar(
    "headrace_log_sink", default=None
)
_install_lock = threading.Lock()
_installed = False


def cap_from_env() -> int:
    raw = os.environ.get(CAP_ENV)
    if not raw:
        return DEFAULT_CAP
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_CAP
    return max(0, value)


class LogSink:
    """The captured output of one step run, flushed to the artifact store in chunks."""

    def __init__(
        self,
        artifacts: ArtifactStore,
        run_id: str,
        step_run_id: str,
        *,
        cap: int | None = None,
        append: bool = False,
    ) -> None:
        self._artifacts = artifacts
        self._run_id = run_id
        self._step_run_id = step_run_id
        self.cap = cap_from_env() if cap is None else cap
        self._buffer = bytearray()
        self._lock = threading.Lock()
        self._seq = 0
        self.stored = 0
        self.dropped = 0
        self._last_flush = time.monotonic()
        self.write_errors = 0
        existing = artifacts.read_log(run_id, step_run_id) if append else []
        if existing:  # a retried attempt appends to what the earlier ones wrote
            self._seq = existing[-1][0] + 1
            self.stored = sum(len(data) for _, data in existing)

    def write(self, text: str) -> None:
        data = text.encode("utf-8", "replace")
        flush = False
        with self._lock:
            room = self.cap - self.stored - len(self._buffer)
            if room <= 0:
                self.dropped += len(data)
                return
            if len(data) > room:
                self.dropped += len(data) - room
                data = data[:room]
            self._buffer += data
            now = time.monotonic()
            flush = len(self._buffer) >= FLUSH_BYTES or now - self._last_flush >= FLUSH_SECONDS
        if flush:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            if not self._buffer:
                return
            data = bytes(self._buffer)
            self._buffer.clear()
            seq = self._seq
            self._seq += 1
            self._last_flush = time.monotonic()
            try:
                self._artifacts.write_log_chunk(self._run_id, self._step_run_id, seq, data)
            except Exception:
                # Logging must never fail a step: count the loss, keep going.
                self.write_errors += 1
                self.dropped += len(data)
                return
            self.stored += len(data)

    def summary(self) -> dict[str, Any]:
        """What the step run records about its log."""
        return {
            "bytes": self.stored,
            "dropped_bytes": self.dropped,
            "cap_bytes": self.cap,
            "truncated": self.dropped > 0,
            "chunks": self._seq,
        }


class _Router(io.TextIOBase):
    """Stands in for ``sys.stdout``/``sys.stderr``: each write goes to the current step's
    sink (if any) and to the stream it replaced."""

    def __init__(self, real: TextIO) -> None:
        self._real = real

    def write(self, text: str) -> int:
        sink = _sink.get()
        if sink is not None:
            sink.write(text)
        try:
            return self._real.write(text)
        except (ValueError, OSError):  # the real stream was closed
            return len(text)

    def flush(self) -> None:
        with suppress(ValueError, OSError):
            self._real.flush()

    def isatty(self) -> bool:
        try:
            return self._real.isatty()
        except (ValueError, OSError):
            return False

    def fileno(self) -> int:
        return self._real.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._real, "encoding", "utf-8")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _RecordHandler(logging.Handler):
    """Sends log records to the current step's sink. When the root logger has no other
    handler it also prints WARNING and above to stderr, as Python would without it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        sink = _sink.get()
        if sink is None:
            return
        try:
            sink.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


_handler = _RecordHandler()


def install() -> None:
    """Route this process's stdout, stderr and log records through the step sinks.

    Checked at every step: whoever replaced ``sys.stdout`` since (Jupyter does for each
    cell, pytest for each test) is wrapped in turn, so their stream keeps the output."""
    global _installed
    with _install_lock:
        if sys.stdout is not None and not isinstance(sys.stdout, _Router):
            sys.stdout = _Router(sys.stdout)
        if sys.stderr is not None and not isinstance(sys.stderr, _Router):
            sys.stderr = _Router(sys.stderr)
        if _installed:
            return
        root = logging.getLogger()
        if _handler not in root.handlers:
            root.addHandler(_handler)
            if logging.lastResort is not None and len(root.handlers) == 1:
                # Keep the "no handler configured" behaviour for the terminal.
                root.addHandler(_TerminalFallback())
        _installed = True


class _TerminalFallback(logging.Handler):
    """What ``logging.lastResort`` did before our handler made the root non-empty."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        root = logging.getLogger()
        if any(h not in (self, _handler) for h in root.handlers):
            return  # the user configured logging since: theirs prints
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


_active: set[LogSink] = set()
_active_lock = threading.Lock()
_flusher: threading.Thread | None = None


def _flush_active() -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        with _active_lock:
            sinks = list(_active)
        for sink in sinks:
            sink.flush()


@contextmanager
def capturing(sink: LogSink) -> Iterator[LogSink]:
    """Send what this thread prints and logs to ``sink`` for the block. A background
    thread flushes open sinks every FLUSH_SECONDS, so a step that prints and then hangs
    (until its timeout kills it) keeps what it printed."""
    global _flusher
    install()
    with _active_lock:
        _active.add(sink)
        if _flusher is None or not _flusher.is_alive():
            _flusher = threading.Thread(target=_flush_active, name="headrace-logs", daemon=True)
            _flusher.start()
    token = _sink.set(sink)
    try:
        yield sink
    finally:
        _sink.reset(token)
        with _active_lock:
            _active.discard(sink)
        sink.flush()


def read(artifacts: ArtifactStore, run_id: str, step_run_id: str) -> str:
    return b"".join(data for _, data in artifacts.read_log(run_id, step_run_id)).decode(
        "utf-8", "replace"
    )
