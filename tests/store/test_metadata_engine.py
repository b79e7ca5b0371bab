"""Connections, transactions, retries and errors of the metadata store's engine layer."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from headrace.errors import StoreError
from headrace.store.metadata import _engine
from headrace.store.metadata._engine import VERSION_CONSTRAINT, Database, mask_url
from headrace.store.metadata.store import SqlMetadataStore as MetadataStore

PG_NOWHERE = "postgresql+psycopg://alice:s3cr3t-pw@127.0.0.1:1/nowhere"


def _run(store: MetadataStore, run_id: str | None = None) -> str:
    return store.create_run(
        run_id=run_id or uuid.uuid4().hex,
        pipeline="p",
        parameters={},
        spec={},
        environment_hash=None,
        started_at=time.time(),
    ).id


# -- URLs and connection failures ---------------------------------------------------------


def test_mask_url_hides_only_the_password() -> None:
    assert mask_url(PG_NOWHERE) == "postgresql+psycopg://alice:***@127.0.0.1:1/nowhere"
    assert mask_url("sqlite:///x/headrace.db") == "sqlite:///x/headrace.db"
    assert mask_url("weird://bob:pw@host/x y") == "weird://bob:***@host/x y"


def test_unreachable_postgres_is_a_store_error_without_the_password() -> None:
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        MetadataStore.open(PG_NOWHERE)
    message = str(caught.value)
    assert "s3cr3t-pw" not in message and "alice:***@127.0.0.1:1/nowhere" in message
    assert "cannot open" in message
    assert time.monotonic() - started < 5  # no retry storm on a refused connection


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mysql://bob:hunter2@db/x", "unsupported metadata store URL 'mysql://bob:***@db/x'"),
        ("postgresql+psycopg2://db/x", "use postgresql+psycopg://"),
        ("not a url", "invalid metadata store URL"),
    ],
)
def test_unusable_urls(url: str, fragment: str) -> None:
    with pytest.raises(StoreError) as caught:
        MetadataStore.open(url)
    assert fragment in str(caught.value) and "hunter2" not in str(caught.value)


def test_unopenable_sqlite_path_names_it(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    url = f"sqlite:///{blocker / 'headrace.db'}"
    with pytest.raises(StoreError, match="a-file"):
        MetadataStore.open(url)


def test_repr_never_shows_the_password() -> None:
    db = Database(PG_NOWHERE)
    try:
        store = MetadataStore(db)
        assert "s3cr3t-pw" not in repr(store) and store.url == PG_NOWHERE
    finally:
        db.dispose()


# -- retries --------------------------------------------------------------------------------


def _flaky(errors: list[BaseException], result: str = "done") -> Any:
    calls: list[int] = []

    def work(conn: Any) -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return result

    work.calls = calls  # type: ignore[attr-defined]
    return work


def _wrapped(cls: type[sa_exc.DBAPIError], orig: BaseException) -> sa_exc.DBAPIError:
    return cls("SELECT 1", {}, orig)


@pytest.fixture
def sqlite_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(_engine, "_backoff", lambda attempt: 0.0)
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    yield db
    db.dispose()


@pytest.fixture
def postgres_db(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A PostgreSQL Database that never connects: for classifying errors only."""
    monkeypatch.setattr(_engine, "_backoff", lambda attempt: 0.0)
    db = Database(PG_NOWHERE)
    monkeypatch.setattr(db, "connect", lambda write: _NoConnection())
    monkeypatch.setattr(db, "serialized", lambda: _NoConnection())
    yield db
    db.dispose()


class _NoConnection:
    def __enter__(self) -> _NoConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def begin(self) -> _NoConnection:
        return self


def test_sqlite_lock_errors_are_retried(sqlite_db: Database) -> None:
    locked = sqlite3.OperationalError("database is locked")
    work = _flaky([_wrapped(sa_exc.OperationalError, locked) for _ in range(3)])
    assert sqlite_db.run(work, write=True) == "done"
    assert len(work.calls) == 4 and sqlite_db.retries == 3


def test_retries_are_bounded(sqlite_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_engine, "MAX_ATTEMPTS", 3)
    locked = sqlite3.OperationalError("database is locked")
    work = _flaky([_wrapped(sa_exc.OperationalError, locked) for _ in range(10)])
    with pytest.raises(StoreError, match="database is locked"):
        sqlite_db.run(work, write=True)
    assert len(work.calls) == 3


def test_other_errors_fail_at_once(sqlite_db: Database) -> None:
    broken = sqlite3.IntegrityError("UNIQUE constraint failed: runs.id")
    work = _flaky([_wrapped(sa_exc.IntegrityError, broken)])
    with pytest.raises(StoreError, match="UNIQUE constraint failed"):
        sqlite_db.run(work, write=True)
    assert len(work.calls) == 1


def test_postgres_transient_errors_are_retried(postgres_db: Database) -> None:
    import psycopg

    version_race = SimpleNamespace(
        sqlstate="23505", diag=SimpleNamespace(constraint_name=VERSION_CONSTRAINT)
    )
    errors: list[BaseException] = [
        _wrapped(sa_exc.OperationalError, psycopg.errors.SerializationFailure("serialize")),
        _wrapped(sa_exc.OperationalError, psycopg.errors.DeadlockDetected("deadlock")),
        _wrapped(
            sa_exc.OperationalError,
            psycopg.OperationalError("server closed the connection unexpectedly"),
        ),
        _wrapped(sa_exc.IntegrityError, version_race),  # type: ignore[arg-type]
    ]
    work = _flaky(errors)
    assert postgres_db.run(work, write=True) == "done"
    assert len(work.calls) == 5 and postgres_db.retries == 4


def test_postgres_other_integrity_errors_are_not_retried(postgres_db: Database) -> None:
    other = SimpleNamespace(sqlstate="23505", diag=SimpleNamespace(constraint_name="pk_runs"))
    work = _flaky([_wrapped(sa_exc.IntegrityError, other)])  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        postgres_db.run(work, write=True)
    assert len(work.calls) == 1


# -- SQLite specifics ------------------------------------------------------------------------


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Any:
    store = MetadataStore.open(f"sqlite:///{tmp_path / 'home' / 'headrace.db'}")
    yield store
    store.close()


def test_sqlite_connection_settings(sqlite_store: MetadataStore) -> None:
    with sqlite_store._db.engine.connect() as conn:
        setting = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "busy_timeout", "synchronous", "foreign_keys")
        }
    assert setting == {
        "journal_mode": "wal",
        "busy_timeout": 30000,
        "synchronous": 1,
        "foreign_keys": 1,
    }
    assert Path(str(sqlite_store._db.sqlite_path) + ".lock").exists()


def test_sqlite_writes_begin_immediate_and_reads_deferred(sqlite_store: MetadataStore) -> None:
    begins: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    sa.event.listen(sqlite_store._db.engine, "before_cursor_execute", record)
    try:
        run_id = _run(sqlite_store)
        assert begins == ["BEGIN IMMEDIATE"]
        sqlite_store.get_run(run_id)
        assert begins == ["BEGIN IMMEDIATE", "BEGIN"]
    finally:
        sa.event.remove(sqlite_store._db.engine, "before_cursor_execute", record)


def test_sqlite_waits_for_another_writer(sqlite_store: MetadataStore) -> None:
    """A writer in another connection holds the lock for a while: we wait, not fail."""
    other = sqlite3.connect(
        str(sqlite_store._db.sqlite_path), isolation_level=None, check_same_thread=False
    )
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO pipelines (name, created_at) VALUES ('other', 0)")
        release = threading.Timer(0.5, lambda: other.execute("COMMIT"))
        release.start()
        started = time.monotonic()
        _run(sqlite_store)
        assert time.monotonic() - started >= 0.4
        release.join()
    finally:
        other.close()
    assert {r.pipeline for r in sqlite_store.list_runs()} == {"p"}


def test_sqlite_readers_do_not_block_writers(sqlite_store: MetadataStore) -> None:
    first = _run(sqlite_store)
    reader = sqlite3.connect(str(sqlite_store._db.sqlite_path), isolation_level=None)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM runs").fetchone() == (1,)
        started = time.monotonic()
        _run(sqlite_store)
        assert time.monotonic() - started < 1
        # the reader's snapshot is stable while the writer commits
        assert reader.execute("SELECT count(*) FROM runs").fetchone() == (1,)
        reader.execute("COMMIT")
    finally:
        reader.close()
    assert len(sqlite_store.list_runs()) == 2 and first


def test_in_memory_store_is_shared_by_threads() -> None:
    with MetadataStore.open("sqlite://") as store:
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(10):
                    _run(store)
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and len(store.list_runs()) == 40


# -- PostgreSQL specifics --------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("metadata_backend", ["postgres"], indirect=True)
def test_postgres_recovers_from_dropped_connections(metadata_store_url: str) -> None:
    import psycopg

    tag = f"headrace-{uuid.uuid4().hex[:8]}"
    url = sa.make_url(metadata_store_url).update_query_dict({"application_name": tag})
    admin_url = sa.make_url(metadata_store_url).set(drivername="postgresql", query={})
    with MetadataStore.open(url.render_as_string(hide_password=False)) as store:
        run_id = _run(store)
        with psycopg.connect(
            admin_url.render_as_string(hide_password=False), autocommit=True
        ) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (tag,),
            ).fetchone()
        assert killed is not None and killed[0] >= 1
        assert store.get_run(run_id).id == run_id  # reconnects instead of failing
        _run(store)
        assert len(store.list_runs()) == 2


@pytest.mark.postgres
def test_postgres_pool_size_setting(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from headrace.errors import ConfigError

    db = Database(postgres_url)
    try:
        assert db.engine.pool.size() == 1  # type: ignore[attr-defined]
    finally:
        db.dispose()
    monkeypatch.setenv("HEADRACE_PG_POOL_SIZE", "4")
    db = Database(postgres_url)
    try:
        assert db.engine.pool.size() == 4  # type: ignore[attr-defined]
    finally:
        db.dispose()
    for bad in ("0", "many"):
        monkeypatch.setenv("HEADRACE_PG_POOL_SIZE", bad)
        with pytest.raises(ConfigError, match="HEADRACE_PG_POOL_SIZE must be a positive integer"):
            Database(postgres_url)
