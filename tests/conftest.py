"""Shared fixtures. Sections are kept apart so each area owns its own."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests run against the source tree even before `pip install -e .`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


# --- core fixtures ---


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty headrace home (SQLite + local artifact folder) made active for the test."""
    from headrace.store.stores import close_stores

    folder = tmp_path / "home"
    monkeypatch.setenv("HEADRACE_HOME", str(folder))
    for var in ("HEADRACE_METADATA_URL", "HEADRACE_ARTIFACT_URI"):
        monkeypatch.delenv(var, raising=False)
    yield folder
    close_stores()


@pytest.fixture(autouse=True)
def _no_user_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never touch the real per-user home from a test that forgot the `home` fixture."""
    if "HEADRACE_HOME" not in os.environ:
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg")))
    # The environment snapshot's cache of installed distributions: one per session.
    if "HEADRACE_CACHE_DIR" not in os.environ:
        monkeypatch.setenv("HEADRACE_CACHE_DIR", str(_session_cache(tmp_path_factory)))


def _session_cache(factory: pytest.TempPathFactory) -> Path:
    folder = factory.getbasetemp() / "headrace-cache"
    folder.mkdir(exist_ok=True)
    return folder


# --- metadata store fixtures ---
# A fresh PostgreSQL database per session (`postgres_url`), and per test a fresh, empty
# store location of each backend (`metadata_store_url`, `metadata_url_factory`) plus an
# open store on it (`metadata_store`). PostgreSQL stores live in their own schema of the
# session database, selected through the URL's search_path.

_POSTGRES_SERVER_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _libpq_url(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database, dropped at the end of the session.

    The server is ``HEADRACE_TEST_POSTGRES_URL`` (default: postgres@127.0.0.1:5432/test).
    An unreachable server fails the tests that need it, unless HEADRACE_SKIP_POSTGRES=1.
    """
    if os.environ.get("HEADRACE_SKIP_POSTGRES") == "1":
        pytest.skip("PostgreSQL tests disabled by HEADRACE_SKIP_POSTGRES=1")
    import uuid

    import psycopg
    from sqlalchemy import make_url

    server = os.environ.get("HEADRACE_TEST_POSTGRES_URL", _POSTGRES_SERVER_DEFAULT)
    shown = make_url(server).render_as_string(hide_password=True)
    try:
        admin = psycopg.connect(_libpq_url(server), autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        unreachable = str(exc).strip()
    else:
        unreachable = ""
    if unreachable:
        pytest.fail(
            f"PostgreSQL server {shown} is unreachable: {unreachable}\nStart it, point "
            "HEADRACE_TEST_POSTGRES_URL at one, or set HEADRACE_SKIP_POSTGRES=1 to skip.",
            pytrace=False,
        )
    name = f"headrace_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(server)
            .set(drivername="postgresql+psycopg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(_libpq_url(server), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def metadata_backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgres``: every metadata store test runs on both."""
    return str(request.param)


class MetadataStoreLocations:
    """Makes URLs of fresh, empty metadata store locations of one backend: a new SQLite
    file, or a new schema of the session's PostgreSQL database."""

    def __init__(self, backend: str, folder: Path, postgres_url: str | None) -> None:
        self.backend = backend
        self._folder = folder
        self._postgres_url = postgres_url
        self._schemas: list[str] = []

    def __call__(self) -> str:
        import uuid

        if self._postgres_url is None:
            return f"sqlite:///{self._folder / uuid.uuid4().hex[:8] / 'headrace.db'}"
        import psycopg
        from sqlalchemy import make_url

        schema = f"store_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(_libpq_url(self._postgres_url), autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        self._schemas.append(schema)
        url = make_url(self._postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    def drop(self) -> None:
        if not self._schemas or self._postgres_url is None:
            return
        import psycopg

        with psycopg.connect(_libpq_url(self._postgres_url), autocommit=True) as admin:
            admin.execute("SET lock_timeout = '20s'")
            for schema in self._schemas:
                admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def metadata_url_factory(
    metadata_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[MetadataStoreLocations]:
    """Call it for the URL of a fresh, empty store location of the current backend."""
    pg = request.getfixturevalue("postgres_url") if metadata_backend == "postgres" else None
    locations = MetadataStoreLocations(metadata_backend, tmp_path, pg)
    yield locations
    locations.drop()


@pytest.fixture
def metadata_store_url(metadata_url_factory: MetadataStoreLocations) -> str:
    """URL of a fresh, empty metadata store location (SQLite file or PostgreSQL schema)."""
    return metadata_url_factory()


@pytest.fixture
def metadata_store(metadata_store_url: str) -> Iterator[object]:
    """An open MetadataStore on a fresh location, opened through its flavor exactly as
    a stack opens it, and closed after the test."""
    from headrace.home import StoreSettings
    from headrace.store.stores import open_metadata_store

    store = open_metadata_store(StoreSettings(metadata_url=metadata_store_url, artifact_uri=""))
    yield store
    store.close()
