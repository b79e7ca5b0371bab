"""The SQL metadata store's own machinery: schema creation and migration on open, query
counts, concurrent opening, on a real SQLite file and the real PostgreSQL server."""

from __future__ import annotations

import multiprocessing
import queue
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from conformance.helpers import assert_well_formed, make_run, new_version, run_step
from headrace.errors import (
    ArtifactNotFoundError,
    SchemaVersionError,
    StoreError,
)
from headrace.store.metadata.store import SqlMetadataStore as MetadataStore
from headrace.store.records import (
    NewArtifactVersion,
)


@contextmanager
def count_selects(store: MetadataStore) -> Iterator[list[str]]:
    """Statements the store sends while the block runs, minus transaction control."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if head in ("SELECT", "WITH"):
            seen.append(statement)

    engine = store._db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def table_count(store: MetadataStore, table: str) -> int:
    with store._db.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def _snapshot(store: MetadataStore) -> dict[str, int]:
    tables = ("artifact_versions", "step_io", "metadata_values", "runs", "step_runs")
    return {table: table_count(store, table) for table in tables}


def test_fresh_store_is_created_at_head_revision(metadata_store: MetadataStore) -> None:
    from headrace.store.metadata import _schema

    assert metadata_store._schema_action == "created"
    with metadata_store._db.engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
        rows = conn.execute(sa.text("SELECT version_num FROM headrace_alembic_version")).all()
    assert names >= _schema.TABLE_NAMES
    assert "alembic_version" not in names  # never the default table other tools use
    assert [r[0] for r in rows] == [_schema.HEAD_REVISION]


def test_reopening_keeps_data_and_creates_nothing(metadata_store_url: str) -> None:
    with MetadataStore.open(metadata_store_url) as store:
        run = make_run(store)
    with MetadataStore.open(metadata_store_url) as again:
        assert again._schema_action is None
        assert again.get_run(run.id) == run


def test_newer_schema_is_refused(metadata_store_url: str) -> None:
    MetadataStore.open(metadata_store_url).close()
    with MetadataStore.open(metadata_store_url) as store, store._db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE headrace_alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaVersionError) as caught:
        MetadataStore.open(metadata_store_url)
    message = str(caught.value)
    assert "9999" in message and "upgrade headrace" in message
    from headrace.store.metadata import _schema

    assert _schema.HEAD_REVISION in message


def test_tables_without_a_revision_are_refused(metadata_store_url: str) -> None:
    with MetadataStore.open(metadata_store_url) as store, store._db.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE headrace_alembic_version"))
    with pytest.raises(StoreError, match="no schema revision"):
        MetadataStore.open(metadata_store_url)


def test_closed_store_refuses_work(metadata_store_url: str) -> None:
    store = MetadataStore.open(metadata_store_url)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.list_runs()


def test_list_runs_ties_on_created_at_order_by_id(metadata_store: MetadataStore) -> None:
    ids = sorted(uuid.uuid4().hex for _ in range(3))
    for run_id in ids:
        make_run(metadata_store, run_id=run_id)
    with metadata_store._db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE runs SET created_at = 1000.0"))
    assert [r.id for r in metadata_store.list_runs()] == list(reversed(ids))


def test_list_runs_is_a_single_query(metadata_store: MetadataStore) -> None:
    for i in range(60):
        run = make_run(metadata_store, pipeline="p")
        metadata_store.add_run_metadata(run.id, {"i": i, "other": "x"})
    with count_selects(metadata_store) as statements:
        page = metadata_store.list_runs(limit=50)
    assert len(page) == 50 and page[0].metadata == {"i": 59, "other": "x"}
    assert len(statements) == 1, statements
    with count_selects(metadata_store) as statements:
        metadata_store.list_runs(pipeline="p", status="running", limit=50, offset=5)
    assert len(statements) == 1, statements


def test_get_step_runs_costs_a_constant_number_of_queries(
    metadata_store: MetadataStore,
) -> None:
    def build(steps: int) -> str:
        run = make_run(metadata_store)
        previous: dict[str, str] = {}
        for i in range(steps):
            _, out = run_step(
                metadata_store,
                run.id,
                f"s{i}",
                inputs=previous,
                outputs={"out": new_version(f"out{i}")},
                metadata={"i": i},
            )
            previous = {"x": out["out"].id}
        return run.id

    small, large = build(2), build(20)
    with count_selects(metadata_store) as few:
        assert len(metadata_store.get_step_runs(small)) == 2
    with count_selects(metadata_store) as many:
        steps = metadata_store.get_step_runs(large)
    assert len(steps) == 20 and steps[5].metadata == {"i": 5} and steps[5].inputs
    assert len(few) == len(many) <= 3


def test_finish_step_run_with_unknown_existing_version_leaves_nothing(
    metadata_store: MetadataStore,
) -> None:
    run = make_run(metadata_store)
    step_id = uuid.uuid4().hex
    metadata_store.create_step_run(
        step_run_id=step_id, run_id=run.id, name="fit", started_at=time.time(), inputs={}
    )
    before = _snapshot(metadata_store)
    with pytest.raises(ArtifactNotFoundError, match="'ghost-version'"):
        metadata_store.finish_step_run(
            step_id,
            status="completed",
            ended_at=time.time(),
            cache_key="k",
            cache_components={},
            outputs={"model": new_version("model"), "reused": "ghost-version"},
            metadata={"loss": 1.0},
        )
    assert _snapshot(metadata_store) == before
    step = metadata_store.get_step_run(step_id)
    assert (step.status, step.outputs, step.metadata) == ("running", {}, {})
    with pytest.raises(ArtifactNotFoundError):
        metadata_store.get_artifact_version("model")


def test_finish_step_run_failing_late_leaves_nothing(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    step_id = uuid.uuid4().hex
    metadata_store.create_step_run(
        step_run_id=step_id, run_id=run.id, name="fit", started_at=time.time(), inputs={}
    )
    before = _snapshot(metadata_store)
    with pytest.raises(StoreError, match="JSON"):
        metadata_store.finish_step_run(
            step_id,
            status="completed",
            ended_at=time.time(),
            cache_key="k",
            cache_components={},
            outputs={"a": new_version("model"), "b": new_version("model")},
            metadata={"fine": 1, "not json": float("nan")},  # fails after the inserts
        )
    assert _snapshot(metadata_store) == before
    assert metadata_store.get_step_run(step_id).status == "running"
    assert metadata_store.list_artifact_versions(name="model") == []
    # and the numbering is untouched: the next version is still 1
    _, out = run_step(metadata_store, run.id, "again", outputs={"a": new_version("model")})
    assert out["a"].version == 1


def test_lineage_on_a_2000_version_chain_and_fan(metadata_store: MetadataStore) -> None:
    """100 chained steps, each with 1 output feeding the next and 19 side outputs."""
    steps_n, sides_n = 100, 19
    s = metadata_store
    run = make_run(s)
    mains: list[str] = []
    sides: list[list[str]] = []
    steps: list[str] = []
    previous: dict[str, str] = {}
    for i in range(steps_n):
        outputs: dict[str, NewArtifactVersion | str] = {"main": new_version("main")}
        outputs.update({f"side{k}": new_version(f"side{k}") for k in range(sides_n)})
        step_id, out = run_step(s, run.id, f"step{i}", inputs=previous, outputs=outputs)
        steps.append(step_id)
        mains.append(out["main"].id)
        sides.append([out[f"side{k}"].id for k in range(sides_n)])
        previous = {"prev": out["main"].id}
    # a final join reads the chain's end and a side output of the first step (a diamond)
    join, out = run_step(
        s,
        run.id,
        "join",
        inputs={"a": mains[-1], "b": sides[0][3]},
        outputs={"result": new_version("result")},
    )
    result = out["result"].id
    assert table_count(s, "artifact_versions") == 2001

    up = s.lineage_upstream(result)
    assert set(up.artifacts) == {result, *mains, sides[0][3]}
    assert set(up.step_runs) == {join, *steps}
    # join's 2 inputs, the chain's inputs, each main output, the side output, the result
    assert len(up.edges) == 2 + (steps_n - 1) + steps_n + 1 + 1
    assert_well_formed(up)

    down = s.lineage_downstream(mains[0])
    assert set(down.step_runs) == {*steps[1:], join}
    assert set(down.artifacts) == {*mains, *(v for side in sides[1:] for v in side), result}
    # chain inputs, every output of steps 1.., join's input from the chain, the result
    assert len(down.edges) == (steps_n - 1) + (steps_n - 1) * (1 + sides_n) + 1 + 1
    assert_well_formed(down)

    fan = s.lineage_downstream(sides[0][3])
    assert set(fan.step_runs) == {join} and set(fan.artifacts) == {sides[0][3], result}
    assert [(e.source, e.target) for e in fan.edges] == sorted(
        [(sides[0][3], join), (join, result)]
    )
    side_up = s.lineage_upstream(sides[50][4])
    assert set(side_up.artifacts) == {sides[50][4], *mains[:50]}
    assert set(side_up.step_runs) == set(steps[:51])
    assert_well_formed(side_up)


def _process_worker(url: str, index: int, barrier: Any, results: Any) -> None:
    try:
        barrier.wait(timeout=120)
        store = MetadataStore.open(url)
        try:
            for i in range(5):
                run = make_run(
                    store, pipeline="stampede", run_id=f"{index:02d}{i:02d}" + uuid.uuid4().hex[4:]
                )
                run_step(
                    store,
                    run.id,
                    "make",
                    outputs={"a": new_version("shared"), "b": new_version("shared")},
                )
                store.finish_run(run.id, status="completed", ended_at=time.time())
            results.put((index, store._schema_action, None))
        finally:
            store.close()
    except BaseException:
        results.put((index, None, traceback.format_exc()))


def test_processes_open_a_fresh_store_at_once(metadata_store_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(8)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_process_worker, args=(metadata_store_url, i, barrier, results))
        for i in range(8)
    ]
    for worker in workers:
        worker.start()
    reports = []
    try:
        for _ in workers:
            reports.append(results.get(timeout=120))
    except queue.Empty:
        pytest.fail(f"only {len(reports)} of 8 processes reported: {reports}")
    finally:
        for worker in workers:
            worker.join(timeout=60)
        results.close()
        results.join_thread()
    failures = [report for report in reports if report[2] is not None]
    assert failures == [], "\n".join(str(f[2]) for f in failures)
    assert [w.exitcode for w in workers] == [0] * 8
    assert sorted(action for _, action, _ in reports if action) == ["created"]

    with MetadataStore.open(metadata_store_url) as store:
        runs = store.list_runs(pipeline="stampede")
        assert len(runs) == 40 and {r.status for r in runs} == {"completed"}
        versions = sorted(v.version for v in store.list_artifact_versions(name="shared"))
        assert versions == list(range(1, 81))
        assert all(len(store.get_step_runs(r.id)[0].outputs) == 2 for r in runs)
