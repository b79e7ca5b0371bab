"""Lineage queries: transitive closures over step I/O edges with recursive CTEs.

Upstream of an artifact version: the step run that *produced* it
(``artifact_versions.producer_step_run_id``; a cache-hit step run that merely linked an
existing version is not its producer), that step run's inputs, their producers, and so
on. Downstream: the step runs that consumed it, every output they link (cache hits
included), those outputs' consumers, and so on.

Each closure is computed in the database; the records then come in a constant number
of queries (closure + artifacts, step runs, their edges, their metadata), using the
primary keys and the ``step_io`` index on ``(artifact_version_id, direction)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from headrace.errors import ArtifactNotFoundError
from headrace.store.metadata._records import load_artifacts, load_step_runs
from headrace.store.metadata._schema import artifact_versions, step_io, step_runs
from headrace.store.records import (
    ArtifactVersionRecord,
    LineageEdge,
    LineageGraph,
    StepRunRecord,
)

#: Name of the bound parameter carrying the artifact version id a query starts from.
ROOT = "lineage_root"


def _closure(
    dialect: str,
    name: str,
    first: sa.FromClause,
    link_first: Callable[[sa.ColumnElement[Any]], sa.ColumnElement[bool]],
    second: sa.FromClause,
    link_second: sa.ColumnElement[bool],
    found: sa.ColumnElement[Any],
) -> sa.Select[tuple[str]]:
    """Ids of the root plus every artifact reached by repeating the hop
    artifact -> ``first`` -> ``second`` -> ``found``."""
    # Seeding from the table (not a literal) gives both CTE terms the same column type,
    # which PostgreSQL requires of a recursive CTE.
    seed = artifact_versions.alias(f"{name}_root")
    closure = (
        sa.select(seed.c.id.label("artifact_id"))
        .where(seed.c.id == sa.bindparam(ROOT))
        .cte(name, recursive=True)
    )
    current = closure.c.artifact_id
    if dialect == "sqlite":
        # SQLite estimates a recursive CTE at a million rows; joined to a table with
        # ANALYZE statistics, that makes it scan the whole table for a Bloom filter on
        # every query. A correlated subquery per row is planned on its own: index lookups.
        hop = (
            sa.select(sa.func.json_group_array(found))
            .select_from(first.join(second, link_second))
            .where(link_first(current))
            .correlate(closure)
            .scalar_subquery()
        )
        each = sa.func.json_each(hop).table_valued("value").alias("hop")
        step = sa.select(each.c.value).select_from(closure.join(each, sa.true()))
    else:
        step = sa.select(found).select_from(
            closure.join(first, link_first(current)).join(second, link_second)
        )
    return sa.select(closure.union(step).c.artifact_id).correlate(None)


@functools.cache
def _queries(dialect: str, direction: str) -> tuple[sa.Select[tuple[str]], sa.ColumnElement[bool]]:
    """(ids of the graph's artifacts, condition selecting its step runs), built once."""
    if direction == "upstream":
        produced = artifact_versions.alias("produced")
        inputs = step_io.alias("inputs")
        closure = _closure(
            dialect,
            "upstream",
            produced,
            lambda current: produced.c.id == current,
            inputs,
            sa.and_(
                inputs.c.step_run_id == produced.c.producer_step_run_id,
                inputs.c.direction == "input",
            ),
            inputs.c.artifact_version_id,
        )
        members = artifact_versions.alias("members")
        producers = sa.select(members.c.producer_step_run_id).where(members.c.id.in_(closure))
        return closure, step_runs.c.id.in_(producers.correlate(None))
    consumed = step_io.alias("consumed")
    linked = step_io.alias("linked")
    closure = _closure(
        dialect,
        "downstream",
        consumed,
        lambda current: sa.and_(
            consumed.c.artifact_version_id == current, consumed.c.direction == "input"
        ),
        linked,
        sa.and_(linked.c.step_run_id == consumed.c.step_run_id, linked.c.direction == "output"),
        linked.c.artifact_version_id,
    )
    reads = step_io.alias("reads")
    consumers = sa.select(reads.c.step_run_id).where(
        reads.c.direction == "input", reads.c.artifact_version_id.in_(closure)
    )
    return closure, step_runs.c.id.in_(consumers.correlate(None))


def upstream(conn: Connection, root: str) -> LineageGraph:
    artifacts, runs = _load(conn, root, "upstream")
    edges: list[LineageEdge] = []
    for run in runs:
        edges.extend(
            LineageEdge(aid, run.id, name) for name, aid in run.inputs.items() if aid in artifacts
        )
        edges.extend(
            LineageEdge(run.id, aid, name)
            for name, aid in run.outputs.items()
            if aid in artifacts and artifacts[aid].producer_step_run_id == run.id
        )
    return _graph(root, artifacts, runs, edges)


def downstream(conn: Connection, root: str) -> LineageGraph:
    artifacts, runs = _load(conn, root, "downstream")
    edges: list[LineageEdge] = []
    for run in runs:
        edges.extend(
            LineageEdge(aid, run.id, name) for name, aid in run.inputs.items() if aid in artifacts
        )
        edges.extend(
            LineageEdge(run.id, aid, name) for name, aid in run.outputs.items() if aid in artifacts
        )
    return _graph(root, artifacts, runs, edges)


def _load(
    conn: Connection, root: str, direction: str
) -> tuple[dict[str, ArtifactVersionRecord], list[StepRunRecord]]:
    _require(conn, root)
    closure, members = _queries(conn.dialect.name, direction)
    params = {ROOT: root}
    found = load_artifacts(conn, artifact_versions.c.id.in_(closure), params=params)
    return {record.id: record for record in found}, load_step_runs(conn, members, params=params)


def _require(conn: Connection, root: str) -> None:
    found = conn.execute(
        sa.select(artifact_versions.c.id).where(artifact_versions.c.id == root)
    ).first()
    if found is None:
        raise ArtifactNotFoundError(f"no artifact version with id '{root}'")


def _graph(
    root: str,
    artifacts: dict[str, ArtifactVersionRecord],
    runs: list[StepRunRecord],
    edges: list[LineageEdge],
) -> LineageGraph:
    edges.sort(key=lambda e: (e.source, e.target, e.name))
    return LineageGraph(
        root=root,
        artifacts=artifacts,
        step_runs={run.id: run for run in runs},
        edges=edges,
    )
