"""Reading records: rows to records, and bulk loads in a constant number of queries.

A list of step runs costs three queries whatever its length (rows, lineage edges,
metadata); a page of runs costs one (runs left-joined to their metadata).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.elements import ColumnElement

from headrace.store.metadata._schema import (
    artifact_versions,
    metadata_values,
    runs,
    step_io,
    step_runs,
)
from headrace.store.records import ArtifactVersionRecord, RunRecord, StepRunRecord

RUN_KIND = "run"
STEP_RUN_KIND = "step_run"

#: Step runs that produced their outputs (by running, or by reusing a cached result).
SUCCEEDED = ("completed",)  # a cache hit is "completed" with cache_hit set


def exists(conn: Connection, column: sa.Column[Any], value: str) -> bool:
    return conn.execute(sa.select(column).where(column == value).limit(1)).first() is not None


def _json_dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


# -- runs ------------------------------------------------------------------------------
def select_runs(
    conn: Connection,
    where: Iterable[ColumnElement[bool]] = (),
    *,
    limit: int | None = None,
    offset: int = 0,
) -> list[RunRecord]:
    """Runs newest first, each with its metadata, in ONE query."""
    page_query = sa.select(runs).where(*where).order_by(runs.c.created_at.desc(), runs.c.id.desc())
    if limit is not None:
        page_query = page_query.limit(limit)
    if offset:
        page_query = page_query.offset(offset)
    page = page_query.subquery("page")
    query = (
        sa.select(
            page,
            metadata_values.c.key.label("meta_key"),
            metadata_values.c.value.label("meta_value"),
        )
        .select_from(
            page.outerjoin(
                metadata_values,
                sa.and_(
                    metadata_values.c.entity_kind == RUN_KIND,
                    metadata_values.c.entity_id == page.c.id,
                ),
            )
        )
        .order_by(page.c.created_at.desc(), page.c.id.desc(), metadata_values.c.key)
    )
    records: list[RunRecord] = []
    current: Row[Any] | None = None
    values: dict[str, Any] = {}
    for row in conn.execute(query):
        if current is None or row.id != current.id:
            if current is not None:
                records.append(_run_record(current, values))
            current, values = row, {}
        if row.meta_key is not None:
            values[row.meta_key] = row.meta_value
    if current is not None:
        records.append(_run_record(current, values))
    return records


def _run_record(row: Row[Any], meta: dict[str, Any]) -> RunRecord:
    return RunRecord(
        id=row.id,
        pipeline=row.pipeline,
        status=row.status,
        parameters=_json_dict(row.parameters),
        spec=_json_dict(row.spec),
        environment_hash=row.environment_hash,
        created_at=row.created_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        error=row.error,
        origin_run_id=row.origin_run_id,
        metadata=meta,
        stack=_json_dict(row.stack) if row.stack is not None else None,
    )


# -- step runs ---------------------------------------------------------------------------
def load_step_runs(
    conn: Connection,
    where: ColumnElement[bool],
    *,
    order_by: Iterable[ColumnElement[Any]] | None = None,
    limit: int | None = None,
    params: Mapping[str, Any] | None = None,
) -> list[StepRunRecord]:
    """Step runs matching ``where`` (a condition on ``step_runs``, with bound ``params``)
    with their inputs, outputs and metadata, in three queries. Default: start order."""
    if order_by is None:
        order_by = (
            sa.func.coalesce(step_runs.c.started_at, step_runs.c.ended_at).asc(),
            step_runs.c.name.asc(),
            step_runs.c.id.asc(),
        )
    query = sa.select(step_runs).where(where).order_by(*order_by)
    if limit is not None:
        query = query.limit(limit)
    rows = conn.execute(query, params).all()
    if not rows:
        return []
    if limit is not None:
        # Narrow the follow-up queries to exactly the rows fetched.
        where = step_runs.c.id.in_([row.id for row in rows])

    edges: dict[str, tuple[dict[str, str], dict[str, str]]] = {row.id: ({}, {}) for row in rows}
    io_query = (
        sa.select(
            step_io.c.step_run_id,
            step_io.c.direction,
            step_io.c.name,
            step_io.c.artifact_version_id,
        )
        .select_from(step_io.join(step_runs, step_runs.c.id == step_io.c.step_run_id))
        .where(where)
    )
    for io in conn.execute(io_query, params):
        inputs, outputs = edges[io.step_run_id]
        (inputs if io.direction == "input" else outputs)[io.name] = io.artifact_version_id

    meta: dict[str, dict[str, Any]] = {row.id: {} for row in rows}
    meta_query = (
        sa.select(metadata_values.c.entity_id, metadata_values.c.key, metadata_values.c.value)
        .select_from(
            metadata_values.join(
                step_runs,
                sa.and_(
                    metadata_values.c.entity_kind == STEP_RUN_KIND,
                    metadata_values.c.entity_id == step_runs.c.id,
                ),
            )
        )
        .where(where)
        .order_by(metadata_values.c.key)
    )
    for entry in conn.execute(meta_query, params):
        meta[entry.entity_id][entry.key] = entry.value

    return [
        StepRunRecord(
            id=row.id,
            run_id=row.run_id,
            name=row.name,
            status=row.status,
            cache_key=row.cache_key,
            cache_hit=bool(row.cache_hit),
            cache_reason=row.cache_reason,
            cache_components=_json_dict(row.cache_components),
            started_at=row.started_at,
            ended_at=row.ended_at,
            error=row.error,
            attempts=row.attempts,
            inputs=edges[row.id][0],
            outputs=edges[row.id][1],
            metadata=meta[row.id],
        )
        for row in rows
    ]


# -- artifact versions ---------------------------------------------------------------------
def load_artifacts(
    conn: Connection,
    where: ColumnElement[bool] | None = None,
    *,
    order_by: Iterable[ColumnElement[Any]] = (),
    limit: int | None = None,
    offset: int = 0,
    params: Mapping[str, Any] | None = None,
) -> list[ArtifactVersionRecord]:
    query = sa.select(artifact_versions)
    if where is not None:
        query = query.where(where)
    query = query.order_by(*order_by)
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return [artifact_record(row) for row in conn.execute(query, params)]


def artifact_record(row: Row[Any]) -> ArtifactVersionRecord:
    m = row._mapping
    return ArtifactVersionRecord(
        id=m["id"],
        name=m["name"],
        version=m["version"],
        hash=m["hash"],
        uri=m["uri"],
        type=m["type"],
        materializer=m["materializer"],
        size=m["size"],
        metadata=_json_dict(m["metadata"]),
        created_at=m["created_at"],
        producer_step_run_id=m["producer_step_run_id"],
        producer_run_id=m["producer_run_id"],
    )
