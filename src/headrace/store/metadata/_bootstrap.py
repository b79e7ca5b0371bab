"""Bring a store's schema to the head revision when it is opened.

- At head already: one cheap read, no lock.
- Empty database: ``create_all`` plus the head revision written into the version table,
  without importing Alembic (its import alone costs 300-450 ms).
- Older revision: Alembic upgrades it (SQLite files are backed up first).
- Unknown or newer revision: :class:`~headrace.errors.SchemaVersionError`.

Creation and migration run under an exclusive lock, so processes opening a fresh or an
old store at the same moment create or migrate it exactly once: ``flock`` on
``<db>.lock`` for SQLite, a session-level ``pg_advisory_lock`` for PostgreSQL. Both
locks die with the process that holds them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from headrace.errors import HeadraceError, SchemaVersionError, StoreError
from headrace.store.metadata import _schema
from headrace.store.metadata._engine import Database

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

#: Key of the PostgreSQL advisory lock that guards schema creation and migration.
PG_SCHEMA_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"headrace.metadata.schema").digest()[:8], "big", signed=True
)


@dataclass(frozen=True, slots=True)
class _State:
    revisions: tuple[str, ...]  # rows of the version table; () when absent or empty
    has_tables: bool  # any headrace table exists
    wal: bool  # SQLite file in WAL mode (always True elsewhere)

    @property
    def ready(self) -> bool:
        return self.revisions == (_schema.HEAD_REVISION,) and self.wal


def ensure_schema(db: Database) -> str | None:
    """Create, migrate or accept the schema; raise if it is newer than this code.

    Returns what this call did: ``"created"``, ``"upgraded"`` or None (nothing to do).
    """
    try:
        # Fail fast, without retries, when the database cannot be reached at all.
        with db.serialized(), db.engine.connect():
            pass
        state = _read_state(db)
        _refuse_unknown(db, state)
        if state.ready:
            return None
        with _schema_lock(db):
            state = _read_state(db)
            _refuse_unknown(db, state)
            if state.ready:
                return None
            if not state.wal:
                _enable_wal(db)
            if state.revisions == (_schema.HEAD_REVISION,):
                return None
            if state.revisions:
                _upgrade(db, state.revisions[0])
                return "upgraded"
            if state.has_tables:
                raise StoreError(
                    f"metadata store '{db.masked_url}' has headrace tables but no "
                    f"schema revision in '{_schema.VERSION_TABLE}'; refusing to touch it"
                )
            db.run(_create_schema, write=True)
            return "created"
    except sa_exc.SQLAlchemyError as exc:
        raise db.error(exc, "cannot open") from exc


def _read_state(db: Database) -> _State:
    def read(conn: Connection) -> _State:
        names = set(sa.inspect(conn).get_table_names())
        revisions: tuple[str, ...] = ()
        if _schema.VERSION_TABLE in names:
            rows = conn.execute(sa.select(_schema.version_table.c.version_num)).scalars()
            revisions = tuple(sorted(rows))
        wal = True
        if db.is_sqlite and not db.memory:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            wal = str(mode).lower() == "wal"
        return _State(
            revisions=revisions,
            has_tables=bool(names & _schema.TABLE_NAMES),
            wal=wal,
        )

    return db.run(read, write=False)


def _refuse_unknown(db: Database, state: _State) -> None:
    unknown = [r for r in state.revisions if r not in _schema.REVISIONS]
    if unknown or len(state.revisions) > 1:
        found = ", ".join(state.revisions)
        raise SchemaVersionError(
            f"metadata store '{db.masked_url}' has schema revision {found}, but this "
            f"headrace knows revisions up to {_schema.HEAD_REVISION}: upgrade headrace "
            "to open it"
        )


def _create_schema(conn: Connection) -> None:
    _schema.metadata.create_all(conn)
    _schema.version_metadata.create_all(conn)
    conn.execute(sa.delete(_schema.version_table))
    conn.execute(sa.insert(_schema.version_table).values(version_num=_schema.HEAD_REVISION))


# -- migrations --------------------------------------------------------------------------
def upgrade_with_alembic(conn: Connection, target: str = "head") -> None:
    """Run the Alembic revisions in :data:`MIGRATIONS_DIR` up to ``target`` on ``conn``,
    inside the transaction ``conn`` is in (imports Alembic)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    command.upgrade(config, target)


def _upgrade(db: Database, current: str) -> None:
    if db.sqlite_path is not None:
        _backup_sqlite(db.sqlite_path, current)
    with db.serialized(), db.connect(write=True) as conn:
        if db.is_sqlite:
            # Rebuilding a table (Alembic batch mode) must not cascade through foreign
            # keys; they are checked as a whole before the migration commits instead.
            _driver_execute(conn, "PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                upgrade_with_alembic(conn)
                if db.is_sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise StoreError(
                            f"migrating '{db.masked_url}' from {current} would break "
                            f"{len(broken)} foreign keys; nothing was changed"
                        )
        except HeadraceError:
            raise
        except Exception as exc:
            raise StoreError(
                f"migrating metadata store '{db.masked_url}' from revision {current} to "
                f"{_schema.HEAD_REVISION} failed, nothing was changed: {db.describe(exc)}"
            ) from exc
        finally:
            if db.is_sqlite:
                _driver_execute(conn, "PRAGMA foreign_keys = ON")


def _backup_sqlite(path: Path, revision: str) -> Path:
    """Copy the database (consistently, via SQLite's backup API) before migrating it."""
    target = path.with_name(f"{path.name}.{revision}.bak")
    partial = target.with_name(target.name + ".partial")
    source = sqlite3.connect(path)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()
    shutil.move(partial, target)
    return target


# -- locks and SQLite details -------------------------------------------------------------
@contextmanager
def _schema_lock(db: Database) -> Iterator[None]:
    if db.is_sqlite:
        if db.sqlite_path is None:
            with db.serialized():
                yield
        else:
            with _file_lock(db.sqlite_path.with_name(db.sqlite_path.name + ".lock")):
                yield
        return
    # Not a pooled connection: the work under the lock needs the process's only one.
    with db.dedicated() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": PG_SCHEMA_LOCK_KEY})
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": PG_SCHEMA_LOCK_KEY})


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    # The lock file is never deleted: removing it would let two processes lock two files.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if sys.platform == "win32":
            import msvcrt

            while True:
                try:
                    msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    continue
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _enable_wal(db: Database) -> None:
    with db.engine.connect() as conn:
        mode = _driver_execute(conn, "PRAGMA journal_mode = WAL")
    if str(mode).lower() != "wal":
        raise StoreError(f"metadata store '{db.masked_url}' cannot use WAL (mode is {mode})")


def _driver_execute(conn: Connection, sql: str) -> object:
    """Run ``sql`` on the sqlite3 connection itself, outside any transaction."""
    driver = conn.connection.driver_connection
    assert driver is not None
    row = driver.execute(sql).fetchone()
    return row[0] if row else None
