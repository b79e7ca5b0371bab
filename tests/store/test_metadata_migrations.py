"""Schema creation and migration of the metadata store, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from headrace.errors import StoreError
from headrace.store.metadata import _bootstrap, _schema
from headrace.store.metadata._engine import Database
from headrace.store.metadata.store import SqlMetadataStore as MetadataStore

SRC = Path(__file__).resolve().parents[2] / "src"


def describe_schema(url: str) -> dict[str, Any]:
    """Tables, columns, keys, indexes and constraints as SQLAlchemy reflects them."""
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        schema: dict[str, Any] = {}
        for table in sorted(inspector.get_table_names()):
            pk = inspector.get_pk_constraint(table)
            schema[table] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
                ],
                "primary_key": (pk["name"], tuple(pk["constrained_columns"])),
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in inspector.get_indexes(table)
                ),
                "unique": sorted(
                    (u["name"], tuple(u["column_names"]))
                    for u in inspector.get_unique_constraints(table)
                ),
                "foreign_keys": sorted(
                    (
                        f["name"],
                        tuple(f["constrained_columns"]),
                        f["referred_table"],
                        tuple(f["referred_columns"]),
                    )
                    for f in inspector.get_foreign_keys(table)
                ),
                "checks": sorted(
                    (c["name"], c["sqltext"]) for c in inspector.get_check_constraints(table)
                ),
            }
        return schema
    finally:
        engine.dispose()


def alembic_build(url: str, target: str = "head") -> None:
    db = Database(url)
    try:
        db.run(lambda conn: _bootstrap.upgrade_with_alembic(conn, target), write=True)
    finally:
        db.dispose()


def test_alembic_revisions_build_the_schema_create_all_builds(metadata_url_factory: Any) -> None:
    created, migrated = metadata_url_factory(), metadata_url_factory()
    MetadataStore.open(created).close()
    alembic_build(migrated)

    expected = describe_schema(created)
    assert set(expected) == _schema.TABLE_NAMES | {_schema.VERSION_TABLE}
    assert expected["step_io"]["indexes"]  # the comparison is not vacuous
    assert describe_schema(migrated) == expected

    # and Alembic's own comparison of the migrated database with the tables finds nothing
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = sa.create_engine(migrated)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"version_table": _schema.VERSION_TABLE, "compare_type": True}
            )
            assert compare_metadata(context, _schema.metadata) == []
    finally:
        engine.dispose()

    # a store Alembic built opens as up to date
    with MetadataStore.open(migrated) as store:
        assert store._schema_action is None


def test_revisions_form_one_chain_ending_at_the_head() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(_bootstrap.MIGRATIONS_DIR))
    assert scripts.get_heads() == [_schema.HEAD_REVISION]
    chain = [script.revision for script in scripts.walk_revisions()]
    assert tuple(reversed(chain)) == _schema.REVISIONS


def test_opening_a_fresh_store_does_not_import_alembic(metadata_store_url: str) -> None:
    code = (
        "import sys\n"
        "from headrace.store.metadata.store import SqlMetadataStore as MetadataStore\n"
        "store = MetadataStore.open(sys.argv[1])\n"
        "store.close()\n"
        "print(store._schema_action, 'alembic' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    for expected in ("created False", "None False"):
        done = subprocess.run(
            [sys.executable, "-c", code, metadata_store_url],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == expected


#: The revision after the head this headrace knows, and the head it follows.
_NEXT = f"{int(_schema.HEAD_REVISION) + 1:04d}"
_HEAD = _schema.HEAD_REVISION

_REVISION_NEXT = '''"""Add pipelines.note (test revision)."""

import sqlalchemy as sa
from alembic import op

revision = "{next}"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pipelines") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
    {extra}


def downgrade() -> None:
    with op.batch_alter_table("pipelines") as batch:
        batch.drop_column("note")
'''


@pytest.fixture
def newer_headrace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Pretend this headrace knows the revision after its head (written by the returned function)."""
    scripts = tmp_path / "migrations"
    shutil.copytree(_bootstrap.MIGRATIONS_DIR, scripts)

    def install(extra: str = "") -> None:
        (scripts / "versions" / f"{_NEXT}_note.py").write_text(
            _REVISION_NEXT.replace("{extra}", extra or "pass")
            .replace("{next}", _NEXT)
            .replace("{head}", _HEAD)
        )
        monkeypatch.setattr(_bootstrap, "MIGRATIONS_DIR", scripts)
        monkeypatch.setattr(_schema, "REVISIONS", (*_schema.REVISIONS, _NEXT))
        monkeypatch.setattr(_schema, "HEAD_REVISION", _NEXT)

    return install


def _versions(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [
                r[0]
                for r in conn.execute(sa.text("SELECT version_num FROM headrace_alembic_version"))
            ]
    finally:
        engine.dispose()


def _pipeline_columns(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        return [c["name"] for c in sa.inspect(engine).get_columns("pipelines")]
    finally:
        engine.dispose()


def test_an_older_store_is_upgraded_with_alembic(
    metadata_store_url: str, newer_headrace: Any
) -> None:
    with MetadataStore.open(metadata_store_url) as store:
        run = store.create_run(
            run_id="a" * 32,
            pipeline="p",
            parameters={},
            spec={},
            environment_hash=None,
            started_at=time.time(),
        )
    newer_headrace()
    with MetadataStore.open(metadata_store_url) as store:
        assert store._schema_action == "upgraded"
        assert store.get_run(run.id) == run
    assert _versions(metadata_store_url) == [_NEXT]
    assert "note" in _pipeline_columns(metadata_store_url)
    with MetadataStore.open(metadata_store_url) as store:
        assert store._schema_action is None

    if metadata_store_url.startswith("sqlite"):
        database = Path(sa.make_url(metadata_store_url).database or "")
        backup = database.with_name(database.name + f".{_HEAD}.bak")
        copy = sqlite3.connect(backup)
        try:
            assert copy.execute("SELECT id FROM runs").fetchall() == [(run.id,)]
            assert copy.execute("SELECT version_num FROM headrace_alembic_version").fetchall() == [
                (_HEAD,)
            ]
        finally:
            copy.close()


def test_a_failing_migration_changes_nothing(metadata_store_url: str, newer_headrace: Any) -> None:
    MetadataStore.open(metadata_store_url).close()
    newer_headrace(extra=f'raise RuntimeError("revision {_NEXT} broke")')
    with pytest.raises(
        StoreError, match=rf"from revision {_HEAD} to {_NEXT} failed.*{_NEXT} broke"
    ):
        MetadataStore.open(metadata_store_url)
    assert _versions(metadata_store_url) == [_HEAD]
    assert "note" not in _pipeline_columns(metadata_store_url)


def test_every_foreign_key_and_run_filter_is_indexed() -> None:
    """Unindexed foreign keys make deletes and joins crawl on big stores."""
    for table in _schema.metadata.sorted_tables:
        leading = [tuple(c.name for c in index.columns) for index in table.indexes]
        leading.append(tuple(c.name for c in table.primary_key.columns))
        leading.extend(
            tuple(c.name for c in constraint.columns)
            for constraint in table.constraints
            if isinstance(constraint, sa.UniqueConstraint)
        )
        for fk in table.foreign_key_constraints:
            columns = tuple(fk.column_keys)
            assert any(cols[: len(columns)] == columns for cols in leading), (table.name, columns)
    run_indexes = {tuple(c.name for c in i.columns) for i in _schema.runs.indexes}
    assert {("created_at", "id"), ("pipeline", "created_at", "id")} <= run_indexes
    assert ("status", "created_at", "id") in run_indexes
