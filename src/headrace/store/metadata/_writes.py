"""Write helpers: insert-if-absent, upserts, version numbering, outputs and edges."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from headrace.errors import ArtifactNotFoundError
from headrace.store.metadata._records import load_artifacts
from headrace.store.metadata._schema import artifact_versions, metadata_values, step_io
from headrace.store.records import ArtifactVersionRecord, NewArtifactVersion

#: First key of PostgreSQL's two-int advisory locks taken per artifact name.
_PG_VERSION_LOCK_CLASS = 0x4864  # "Hd"


def _dialect_insert(conn: Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def insert_ignore(
    conn: Connection, table: sa.Table, row: Mapping[str, Any], keys: Sequence[str]
) -> None:
    """Insert ``row`` unless a row with the same ``keys`` exists (race-safe)."""
    conn.execute(
        _dialect_insert(conn, table).values(**row).on_conflict_do_nothing(index_elements=list(keys))
    )


def upsert_metadata(conn: Connection, kind: str, entity_id: str, values: Mapping[str, Any]) -> None:
    """Set key/values of one entity; a key written again takes the new value."""
    if not values:
        return
    rows = [
        {"entity_kind": kind, "entity_id": entity_id, "key": str(key), "value": value}
        for key, value in values.items()
    ]
    statement = _dialect_insert(conn, metadata_values)
    statement = statement.on_conflict_do_update(
        index_elements=["entity_kind", "entity_id", "key"],
        set_={"value": statement.excluded.value},
    )
    conn.execute(statement, rows)


def lock_artifact_names(conn: Connection, names: Sequence[str]) -> None:
    """Serialize version numbering of these artifact names until the transaction ends.

    On SQLite the write transaction began IMMEDIATE and already holds the only write
    lock. On PostgreSQL one transaction-scoped advisory lock per name does it, taken in
    sorted order so that two transactions do not wait on each other in a cycle (and a
    deadlock, should one happen, is retried). The unique constraint on (name, version)
    stays as the guard; a lost race is retried as well.
    """
    if conn.dialect.name != "postgresql" or not names:
        return
    conn.execute(
        sa.text(
            "SELECT pg_advisory_xact_lock(:cls, hashtext(name)) "
            "FROM (SELECT DISTINCT unnest(CAST(:names AS text[])) AS name ORDER BY 1) AS n"
        ),
        {"cls": _PG_VERSION_LOCK_CLASS, "names": sorted(set(names))},
    )


def latest_versions(conn: Connection, names: Sequence[str]) -> dict[str, int]:
    """The highest version number of each name (0 when it has none yet)."""
    latest = dict.fromkeys(names, 0)
    if latest:
        rows = conn.execute(
            sa.select(artifact_versions.c.name, sa.func.max(artifact_versions.c.version))
            .where(artifact_versions.c.name.in_(list(latest)))
            .group_by(artifact_versions.c.name)
        )
        latest.update({name: int(version) for name, version in rows})
    return latest


def require_versions(conn: Connection, ids: Mapping[str, str], what: str) -> None:
    if not ids:
        return
    present = set(
        conn.execute(
            sa.select(artifact_versions.c.id).where(artifact_versions.c.id.in_(set(ids.values())))
        ).scalars()
    )
    for name, version_id in ids.items():
        if version_id not in present:
            raise ArtifactNotFoundError(
                f"{what} '{name}': no artifact version with id '{version_id}'"
            )


def link_existing(
    conn: Connection,
    step_run_id: str,
    linked: Mapping[str, str],
    output_metadata: Mapping[str, Mapping[str, Any]],
) -> dict[str, ArtifactVersionRecord]:
    """Records of existing versions a (cache-hit) step run links as outputs."""
    if not linked:
        return {}
    require_versions(conn, linked, f"output of step run '{step_run_id}'")
    found = load_artifacts(conn, artifact_versions.c.id.in_(set(linked.values())))
    by_id = {record.id: record for record in found}
    records: dict[str, ArtifactVersionRecord] = {}
    for name, version_id in linked.items():
        record = by_id[version_id]
        extra = output_metadata.get(name)
        if extra:
            merged = {**record.metadata, **extra}
            conn.execute(
                sa.update(artifact_versions)
                .where(artifact_versions.c.id == version_id)
                .values(metadata=merged)
            )
            by_id[version_id] = record = replace(record, metadata=merged)
        records[name] = record
    return records


def insert_new_versions(
    conn: Connection,
    run_id: str,
    step_run_id: str,
    outputs: Sequence[tuple[str, NewArtifactVersion]],
    ids: Mapping[str, str],
    output_metadata: Mapping[str, Mapping[str, Any]],
) -> dict[str, ArtifactVersionRecord]:
    """Number and insert the new versions a step run produced (output name -> record)."""
    names = [new.name for _, new in outputs]
    lock_artifact_names(conn, names)
    latest = latest_versions(conn, names)
    now = time.time()
    records: dict[str, ArtifactVersionRecord] = {}
    for output, new in outputs:
        latest[new.name] += 1
        records[output] = ArtifactVersionRecord(
            id=ids[output],
            name=new.name,
            version=latest[new.name],
            hash=new.hash,
            uri=new.uri,
            type=new.type,
            materializer=new.materializer,
            size=new.size,
            metadata={**new.metadata, **output_metadata.get(output, {})},
            created_at=now,
            producer_step_run_id=step_run_id,
            producer_run_id=run_id,
        )
    insert_artifacts(conn, list(records.values()))
    return records


def insert_artifacts(conn: Connection, records: Sequence[ArtifactVersionRecord]) -> None:
    if not records:
        return
    conn.execute(
        sa.insert(artifact_versions),
        [
            {
                "id": record.id,
                "name": record.name,
                "version": record.version,
                "hash": record.hash,
                "uri": record.uri,
                "type": record.type,
                "materializer": record.materializer,
                "size": record.size,
                "metadata": record.metadata,
                "created_at": record.created_at,
                "producer_step_run_id": record.producer_step_run_id,
                "producer_run_id": record.producer_run_id,
            }
            for record in records
        ],
    )


def insert_edges(
    conn: Connection, step_run_id: str, direction: str, edges: Mapping[str, str]
) -> None:
    if edges:
        conn.execute(
            sa.insert(step_io),
            [
                {
                    "step_run_id": step_run_id,
                    "artifact_version_id": version_id,
                    "direction": direction,
                    "name": name,
                }
                for name, version_id in edges.items()
            ],
        )
