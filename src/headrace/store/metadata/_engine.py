"""Engines, transactions and retries of the metadata store.

:class:`Database` owns one SQLAlchemy engine and runs units of work in transactions:

- SQLite: WAL (set once when the store is created), ``busy_timeout`` 30 s,
  ``synchronous=NORMAL``, foreign keys on. sqlite3's own transaction handling is
  switched off; reads begin with a plain (deferred) ``BEGIN`` and writes with
  ``BEGIN IMMEDIATE``, so a write never has to upgrade a read lock, the case
  ``busy_timeout`` cannot wait out.
- PostgreSQL (psycopg 3): a pre-pinged pool of one connection per process; reads run at
  REPEATABLE READ so a multi-query read sees one snapshot; writes run at READ COMMITTED.

Transient failures (SQLite busy/locked, PostgreSQL serialization failure, deadlock,
lost connection, a lost race for an artifact version number) are retried with bounded
exponential backoff and jitter, so callers never see them. Everything else surfaces as
:class:`~headrace.errors.StoreError` naming the URL with its password masked.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

from headrace.errors import ConfigError, MissingExtraError, StoreError

T = TypeVar("T")

log = logging.getLogger("headrace.store.metadata")

SQLITE_BUSY_TIMEOUT_MS = 30_000
MAX_ATTEMPTS = 12
BACKOFF_BASE_S = 0.01
BACKOFF_CAP_S = 1.0
PG_CONNECT_TIMEOUT_S = 10
#: One pooled PostgreSQL connection per process, shared by its threads (steps, heartbeat,
#: the run itself), each holding it for one short transaction. Many processes share one
#: server, whose max_connections is often 100: SQLAlchemy's default pool (5 kept open, 10
#: more on demand) let 64 processes ask for over 150 and be refused ("too many clients").
#: Only the schema lock takes a second connection of its own (see ``dedicated``).
#: ``HEADRACE_PG_POOL_SIZE`` raises it for a process whose threads need to talk to the
#: database at the same time (a server), where the connection budget allows.
PG_POOL_SIZE_ENV = "HEADRACE_PG_POOL_SIZE"
PG_POOL_SIZE = 1
PG_MAX_OVERFLOW = 0
#: How long a thread waits for the process's connection while other threads use it.
PG_POOL_TIMEOUT_S = 300


def _pool_size() -> int:
    raw = os.environ.get(PG_POOL_SIZE_ENV)
    if raw is None:
        return PG_POOL_SIZE
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if size < 1:
        raise ConfigError(f"{PG_POOL_SIZE_ENV} must be a positive integer, got {raw!r}")
    return size


#: Execution option read by the SQLite ``begin`` hook: ``DEFERRED`` or ``IMMEDIATE``.
_BEGIN_OPTION = "headrace_sqlite_begin"

_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_PG_TRANSIENT_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now
    }
)
_PG_UNIQUE_VIOLATION = "23505"
#: A lost race for the next version number of an artifact name: retry the transaction.
VERSION_CONSTRAINT = "uq_artifact_versions_name_version"

_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)[^@]*@")


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    try:
        parsed = sa.make_url(url)
        return url if parsed.password is None else parsed.render_as_string(hide_password=True)
    except (sa_exc.ArgumentError, ValueError):
        return _PASSWORD_IN_URL.sub(r"\1***@", url)


def _dumps(value: Any) -> str:
    # NaN and infinities are not JSON and PostgreSQL refuses them: fail the same everywhere.
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise StoreError(f"value is not JSON: {exc}") from exc


def _backoff(attempt: int) -> float:
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class Database:
    """One engine plus transactional units of work with retries. Thread-safe."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.masked_url = mask_url(url)
        self.retries = 0  # transient failures absorbed so far (for diagnostics)
        try:
            parsed = sa.make_url(url)
        except (sa_exc.ArgumentError, ValueError) as exc:
            raise StoreError(f"invalid metadata store URL '{self.masked_url}': {exc}") from exc
        backend = parsed.get_backend_name()
        self.sqlite_path: Path | None = None
        self.memory = False
        # A single in-memory SQLite connection cannot be used by two threads at once.
        self._serial_lock: threading.RLock | None = None
        self._counter_lock = threading.Lock()
        if backend == "sqlite":
            self.dialect = "sqlite"
            self.engine = self._sqlite_engine(parsed)
        elif backend in ("postgresql", "postgres"):
            self.dialect = "postgresql"
            self.engine = self._postgres_engine(parsed)
        else:
            raise StoreError(
                f"unsupported metadata store URL '{self.masked_url}': "
                "use sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB"
            )

    # -- engines ----------------------------------------------------------------------
    def _sqlite_engine(self, parsed: sa.URL) -> Engine:
        database = parsed.database or ""
        uri = str(parsed.query.get("uri", "")).lower() in ("true", "1")
        self.memory = database in ("", ":memory:") or parsed.query.get("mode") == "memory"
        kwargs: dict[str, Any] = {"json_serializer": _dumps}
        if self.memory:
            self._serial_lock = threading.RLock()
            kwargs["poolclass"] = sa.pool.StaticPool
            kwargs["connect_args"] = {"check_same_thread": False}
        elif not uri:
            self.sqlite_path = Path(database).expanduser().absolute()
            try:
                self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot open metadata store '{self.masked_url}': {exc}") from exc
            parsed = parsed.set(database=str(self.sqlite_path))
        engine = sa.create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine

    def _postgres_engine(self, parsed: sa.URL) -> Engine:
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        if parsed.get_driver_name() != "psycopg":
            raise StoreError(
                f"unsupported PostgreSQL driver in '{self.masked_url}': "
                "use postgresql+psycopg:// (psycopg 3)"
            )
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise MissingExtraError(
                "psycopg", "postgres", purpose="the PostgreSQL metadata store"
            ) from exc
        connect_args: dict[str, Any] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
        return sa.create_engine(
            parsed,
            pool_pre_ping=True,
            pool_size=_pool_size(),
            max_overflow=PG_MAX_OVERFLOW,
            pool_timeout=PG_POOL_TIMEOUT_S,
            json_serializer=_dumps,
            connect_args=connect_args,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def dispose(self) -> None:
        self.engine.dispose()

    # -- units of work ----------------------------------------------------------------
    def serialized(self) -> AbstractContextManager[Any]:
        """Held around every use of an in-memory SQLite database's single connection."""
        return self._serial_lock if self._serial_lock is not None else nullcontext()

    @contextmanager
    def dedicated(self) -> Iterator[Connection]:
        """A connection outside the pool, for a session-level lock held while pooled
        connections work under it. The idle pooled connection is closed first, so a
        process waiting for the lock holds one connection, not two."""
        self.engine.dispose()
        own = sa.create_engine(
            self.engine.url,
            poolclass=sa.pool.NullPool,
            connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S},
        )
        try:
            with own.connect() as conn:
                yield conn
        finally:
            own.dispose()

    @contextmanager
    def connect(self, *, write: bool) -> Iterator[Connection]:
        """A pooled connection whose next ``begin()`` starts the right kind of transaction."""
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE" if write else "DEFERRED"})
            elif not write:
                conn.execution_options(isolation_level="REPEATABLE READ")
            yield conn

    def run(self, work: Callable[[Connection], T], *, write: bool) -> T:
        """Run ``work`` in one transaction, committing on success; retry transient errors.

        ``work`` may run more than once, so it must not have effects outside ``conn``.
        """
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self.serialized(), self.connect(write=write) as conn, conn.begin():
                    return work(conn)
            except sa_exc.DBAPIError as exc:
                if attempt == MAX_ATTEMPTS or not self.is_transient(exc):
                    raise self.error(exc) from exc
                with self._counter_lock:
                    self.retries += 1
                log.debug("transient metadata store error (attempt %d): %s", attempt, exc.orig)
            except sa_exc.SQLAlchemyError as exc:
                raise self.error(exc) from exc
            time.sleep(_backoff(attempt))
        raise AssertionError("unreachable")  # the last attempt returns or raises

    # -- errors -------------------------------------------------------------------------
    def is_transient(self, exc: sa_exc.DBAPIError) -> bool:
        """Whether retrying the whole transaction can succeed."""
        if exc.connection_invalidated:
            return True
        orig = exc.orig
        if self.is_sqlite:
            code = getattr(orig, "sqlite_errorcode", None)
            if isinstance(code, int):
                if code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED):
                    return True
            else:
                text = str(orig).lower()
                if "database is locked" in text or "database table is locked" in text:
                    return True
            return isinstance(exc, sa_exc.IntegrityError) and _is_version_race(str(orig))
        sqlstate = getattr(orig, "sqlstate", None)
        if sqlstate in _PG_TRANSIENT_SQLSTATES or (sqlstate or "").startswith("08"):
            return True
        if sqlstate == _PG_UNIQUE_VIOLATION:
            diag = getattr(orig, "diag", None)
            return getattr(diag, "constraint_name", None) == VERSION_CONSTRAINT
        # A psycopg OperationalError without SQLSTATE is a lost or refused connection.
        return sqlstate is None and isinstance(exc, sa_exc.OperationalError)

    def error(self, exc: BaseException, doing: str = "") -> StoreError:
        """A StoreError for ``exc`` that names the store and never its password."""
        prefix = f"metadata store '{self.masked_url}'"
        return StoreError(f"{prefix}: {doing + ': ' if doing else ''}{self.describe(exc)}")

    def describe(self, exc: BaseException) -> str:
        """The first line of what went wrong, without the driver's SQL or a password."""
        reason = exc.orig if isinstance(exc, sa_exc.StatementError) else exc
        lines = str(reason).strip().splitlines()
        text = f"{type(reason).__name__}: {lines[0]}" if lines else type(reason).__name__
        password = self._password()
        return text.replace(password, "***") if password else text

    def _password(self) -> str | None:
        try:
            return sa.make_url(self.url).password
        except (sa_exc.ArgumentError, ValueError):
            return None


def _is_version_race(message: str) -> bool:
    return "artifact_versions.name, artifact_versions.version" in message


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from sqlite3; the begin hook emits BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")
