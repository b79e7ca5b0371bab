"""Metric history in SQL: the points of step runs, and runs filtered by last values."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from headrace.store.metadata._schema import metric_points, runs, step_runs
from headrace.store.records import MetricCondition, MetricPoint

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def insert_points(conn: Connection, step_run_id: str, points: Sequence[MetricPoint]) -> None:
    """Append points after those the step run has (``seq`` continues per name)."""
    if not points:
        return
    rows = conn.execute(
        sa.select(metric_points.c.name, sa.func.max(metric_points.c.seq))
        .where(metric_points.c.step_run_id == step_run_id)
        .group_by(metric_points.c.name)
    ).all()
    next_seq = {name: int(seq) + 1 for name, seq in rows}
    values = []
    for point in points:
        seq = next_seq.get(point.name, 0)
        next_seq[point.name] = seq + 1
        values.append(
            {
                "step_run_id": step_run_id,
                "name": point.name,
                "seq": seq,
                "step": point.step,
                "value": point.value,
                "timestamp": point.timestamp,
            }
        )
    conn.execute(sa.insert(metric_points), values)


def select_points(conn: Connection, step_run_id: str, name: str | None) -> list[MetricPoint]:
    query = sa.select(
        metric_points.c.name, metric_points.c.value, metric_points.c.step, metric_points.c.timestamp
    ).where(metric_points.c.step_run_id == step_run_id)
    if name is not None:
        query = query.where(metric_points.c.name == name)
    query = query.order_by(metric_points.c.name, metric_points.c.seq)
    return [MetricPoint(n, float(v), int(s), float(t)) for n, v, s, t in conn.execute(query)]


def _last_values() -> Any:
    """(run_id, name, value) of the newest point of each metric in each run."""
    ranked = (
        sa.select(
            step_runs.c.run_id.label("run_id"),
            metric_points.c.name.label("name"),
            metric_points.c.value.label("value"),
            sa.func.row_number()
            .over(
                partition_by=(step_runs.c.run_id, metric_points.c.name),
                order_by=(
                    metric_points.c.timestamp.desc(),
                    metric_points.c.seq.desc(),
                    step_runs.c.id.desc(),
                ),
            )
            .label("rank"),
        )
        .select_from(metric_points.join(step_runs, step_runs.c.id == metric_points.c.step_run_id))
        .subquery("ranked")
    )
    return ranked


def last_values(conn: Connection, run_ids: Iterable[str]) -> dict[str, dict[str, float]]:
    ids = list(run_ids)
    if not ids:
        return {}
    ranked = _last_values()
    query = sa.select(ranked.c.run_id, ranked.c.name, ranked.c.value).where(
        ranked.c.rank == 1, ranked.c.run_id.in_(ids)
    )
    found: dict[str, dict[str, float]] = {}
    for run_id, name, value in conn.execute(query):
        found.setdefault(run_id, {})[name] = float(value)
    return found


def where_clauses(conditions: Sequence[MetricCondition]) -> list[sa.ColumnElement[bool]]:
    """One ``runs.id IN (...)`` clause per condition on the runs table."""
    clauses: list[sa.ColumnElement[bool]] = []
    for condition in conditions:
        ranked = _last_values()
        compare = _COMPARE[condition.op]
        matching = sa.select(ranked.c.run_id).where(
            ranked.c.rank == 1,
            ranked.c.name == condition.name,
            compare(ranked.c.value, condition.value),
        )
        clauses.append(runs.c.id.in_(matching))
    return clauses
