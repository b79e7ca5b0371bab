"""Behaviour every metadata store backend must show: each test runs on a real SQLite
file and on the real PostgreSQL server (see the metadata fixtures in conftest.py)."""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from headrace.errors import (
    ArtifactNotFoundError,
    ConfigError,
    HeadraceError,
    RunNotFoundError,
    SchemaVersionError,
    StoreError,
)
from headrace.store.metadata import MetadataStore
from headrace.store.records import (
    ArtifactVersionRecord,
    LineageGraph,
    NewArtifactVersion,
    RunRecord,
)

# -- helpers ---------------------------------------------------------------------------


def new_version(name: str, content: str = "", **metadata: Any) -> NewArtifactVersion:
    digest = content or uuid.uuid4().hex
    return NewArtifactVersion(
        name=name,
        hash=f"sha-{digest}",
        uri=f"file:///objects/{digest}",
        type="builtins.dict",
        materializer="json",
        size=42,
        metadata=dict(metadata),
    )


def make_run(
    store: MetadataStore, pipeline: str = "training", run_id: str | None = None, **kw: Any
) -> RunRecord:
    return store.create_run(
        run_id=run_id or uuid.uuid4().hex,
        pipeline=pipeline,
        parameters=kw.pop("parameters", {"C": 0.5}),
        spec=kw.pop("spec", {"steps": ["load"]}),
        environment_hash=kw.pop("environment_hash", None),
        started_at=kw.pop("started_at", time.time()),
        **kw,
    )


def run_step(
    store: MetadataStore,
    run_id: str,
    name: str,
    *,
    inputs: Mapping[str, str] | None = None,
    outputs: Mapping[str, NewArtifactVersion | str] | None = None,
    status: str = "completed",
    cache_key: str | None = None,
    cache_hit: bool = False,
    **kw: Any,
) -> tuple[str, dict[str, ArtifactVersionRecord]]:
    step_run_id = uuid.uuid4().hex
    store.create_step_run(
        step_run_id=step_run_id,
        run_id=run_id,
        name=name,
        started_at=time.time(),
        inputs=dict(inputs or {}),
    )
    records = store.finish_step_run(
        step_run_id,
        status=status,
        ended_at=time.time(),
        cache_key=cache_key,
        cache_components=kw.pop("cache_components", {"code": name}),
        cache_hit=cache_hit,
        outputs=dict(outputs or {}),
        **kw,
    )
    return step_run_id, records


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


# -- opening and schema ----------------------------------------------------------------


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


# -- environments ----------------------------------------------------------------------


def test_environments_are_deduplicated(metadata_store: MetadataStore) -> None:
    metadata_store.put_environment("env1", {"python": "3.11", "packages": {"numpy": "2.0"}})
    metadata_store.put_environment("env1", {"python": "other"})  # already there: ignored
    assert metadata_store.get_environment("env1") == {
        "python": "3.11",
        "packages": {"numpy": "2.0"},
    }
    with pytest.raises(StoreError, match="nope"):
        metadata_store.get_environment("nope")


# -- runs ------------------------------------------------------------------------------


def test_create_get_and_finish_run(metadata_store: MetadataStore) -> None:
    metadata_store.put_environment("env1", {"python": "3.11"})
    origin = make_run(metadata_store)
    started = time.time()
    run = make_run(
        metadata_store,
        parameters={"n": 10, "nested": {"a": [1, 2]}},
        spec={"name": "training"},
        environment_hash="env1",
        started_at=started,
        origin_run_id=origin.id,
    )
    assert run.status == "running" and run.started_at == started and run.ended_at is None
    assert metadata_store.get_run(run.id) == run

    metadata_store.finish_run(run.id, status="failed", ended_at=started + 5, error="boom")
    done = metadata_store.get_run(run.id)
    assert (done.status, done.ended_at, done.error) == ("failed", started + 5, "boom")
    assert done.parameters == {"n": 10, "nested": {"a": [1, 2]}}
    assert done.origin_run_id == origin.id and done.environment_hash == "env1"


def test_run_bad_inputs(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    with pytest.raises(StoreError, match="already exists"):
        make_run(metadata_store, run_id=run.id)
    with pytest.raises(StoreError, match="put_environment"):
        make_run(metadata_store, environment_hash="missing-env")
    with pytest.raises(RunNotFoundError, match="origin run 'gone'"):
        make_run(metadata_store, origin_run_id="gone")
    with pytest.raises(RunNotFoundError, match="'unknown-run'") as caught:
        metadata_store.get_run("unknown-run")
    assert isinstance(caught.value, KeyError)
    with pytest.raises(RunNotFoundError, match="'unknown-run'"):
        metadata_store.finish_run("unknown-run", status="completed", ended_at=1.0)
    with pytest.raises(RunNotFoundError):
        metadata_store.add_run_metadata("unknown-run", {"a": 1})
    assert len(metadata_store.list_runs()) == 1


def test_run_metadata_is_set_and_overwritten(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    metadata_store.add_run_metadata(run.id, {"accuracy": 0.9, "tags": ["a", "b"]})
    metadata_store.add_run_metadata(run.id, {"accuracy": 0.95, "note": None})
    assert metadata_store.get_run(run.id).metadata == {
        "accuracy": 0.95,
        "tags": ["a", "b"],
        "note": None,
    }
    assert metadata_store.list_runs()[0].metadata == metadata_store.get_run(run.id).metadata


def test_metric_points_append_in_order_and_filter_runs(metadata_store: MetadataStore) -> None:
    from headrace.store.records import MetricCondition, MetricPoint

    def step_run(run: RunRecord, name: str) -> str:
        step_run_id = uuid.uuid4().hex
        metadata_store.create_step_run(
            step_run_id=step_run_id, run_id=run.id, name=name, started_at=1.0, inputs={}
        )
        return step_run_id

    low, high = make_run(metadata_store), make_run(metadata_store)
    fit_low, fit_high, evaluate = (
        step_run(low, "fit"),
        step_run(high, "fit"),
        step_run(high, "eval"),
    )
    points = [MetricPoint("accuracy", 0.5 + i / 1000, i, 100.0 + i) for i in range(300)]
    metadata_store.add_metric_points(fit_high, points[:150])
    metadata_store.add_metric_points(fit_high, points[150:])  # appended after the first batch
    metadata_store.add_metric_points(fit_low, [MetricPoint("accuracy", 0.7, 0, 50.0)])
    # A later point from another step of the run is the run's last value.
    metadata_store.add_metric_points(evaluate, [MetricPoint("accuracy", 0.91, 0, 1000.0)])
    assert metadata_store.get_metric_points(fit_high) == points
    assert metadata_store.get_metric_points(fit_high, "loss") == []
    assert metadata_store.last_metric_values([low.id, high.id]) == {
        low.id: {"accuracy": 0.7},
        high.id: {"accuracy": 0.91},
    }

    def matching(*conditions: MetricCondition) -> list[str]:
        return [r.id for r in metadata_store.list_runs(metrics=conditions)]

    assert matching(MetricCondition("accuracy", ">", 0.9)) == [high.id]
    assert matching(MetricCondition("accuracy", "<=", 0.7)) == [low.id]
    assert matching(MetricCondition("accuracy", "!=", 0.0)) == [high.id, low.id]
    assert matching(MetricCondition("accuracy", ">", 0.5), MetricCondition("loss", "<", 1)) == []
    with pytest.raises(StoreError, match="no step run"):
        metadata_store.add_metric_points("gone", points[:1])


def test_resolve_run_id(metadata_store: MetadataStore) -> None:
    with pytest.raises(RunNotFoundError, match="latest"):
        metadata_store.resolve_run_id("latest")
    ids = [f"abc{i}" + uuid.uuid4().hex[4:] for i in range(7)] + ["ffff" + uuid.uuid4().hex[4:]]
    for run_id in ids:
        make_run(metadata_store, run_id=run_id)
    assert metadata_store.resolve_run_id(ids[3]) == ids[3]
    assert metadata_store.resolve_run_id("abc3") == ids[3]
    assert metadata_store.resolve_run_id("fff") == ids[-1]
    assert metadata_store.resolve_run_id("latest") == ids[-1]
    assert metadata_store.resolve_run_id(f"  {ids[0]} ") == ids[0]

    with pytest.raises(RunNotFoundError) as caught:
        metadata_store.resolve_run_id("abc")
    message = str(caught.value)
    assert "ambiguous" in message and "'abc'" in message and "7" in message
    assert sum(run_id in message for run_id in ids) == 5  # five candidates, not all seven

    with pytest.raises(RunNotFoundError, match="no run matches '0123'"):
        metadata_store.resolve_run_id("0123")
    with pytest.raises(RunNotFoundError, match="no run matches 'ab%'"):
        metadata_store.resolve_run_id("ab%")  # LIKE wildcards are literal
    with pytest.raises(RunNotFoundError):
        metadata_store.resolve_run_id("")


def test_list_runs_newest_first_with_filters_and_pages(metadata_store: MetadataStore) -> None:
    made = []
    for i in range(6):
        made.append(make_run(metadata_store, pipeline="a" if i % 2 else "b"))
    metadata_store.finish_run(made[0].id, status="completed", ended_at=time.time())
    metadata_store.finish_run(made[1].id, status="completed", ended_at=time.time())
    newest_first = [r.id for r in reversed(made)]

    assert [r.id for r in metadata_store.list_runs()] == newest_first
    assert [r.id for r in metadata_store.list_runs(limit=2)] == newest_first[:2]
    assert [r.id for r in metadata_store.list_runs(limit=2, offset=2)] == newest_first[2:4]
    assert [r.id for r in metadata_store.list_runs(offset=4)] == newest_first[4:]
    assert metadata_store.list_runs(limit=0) == []
    assert [r.id for r in metadata_store.list_runs(pipeline="a")] == newest_first[0::2]
    assert [r.id for r in metadata_store.list_runs(status="completed")] == [made[1].id, made[0].id]
    assert [r.id for r in metadata_store.list_runs(pipeline="b", status="completed")] == [
        made[0].id
    ]
    assert metadata_store.list_runs(pipeline="nope") == []
    with pytest.raises(ConfigError):
        metadata_store.list_runs(limit=-1)
    with pytest.raises(ConfigError):
        metadata_store.list_runs(offset=-1)


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


# -- step runs ---------------------------------------------------------------------------


def test_step_run_lifecycle(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    load_id, loaded = run_step(
        metadata_store, run.id, "load", outputs={"raw": new_version("raw", rows=3)}
    )
    raw = loaded["raw"]
    assert (raw.name, raw.version, raw.producer_step_run_id, raw.producer_run_id) == (
        "raw",
        1,
        load_id,
        run.id,
    )

    fit_id = uuid.uuid4().hex
    started = time.time()
    metadata_store.create_step_run(
        step_run_id=fit_id, run_id=run.id, name="fit", started_at=started, inputs={"df": raw.id}
    )
    running = metadata_store.get_step_run(fit_id)
    assert (running.status, running.inputs, running.outputs) == ("running", {"df": raw.id}, {})

    records = metadata_store.finish_step_run(
        fit_id,
        status="completed",
        ended_at=started + 2,
        cache_key="key-fit",
        cache_components={"code": "c1", "inputs": {"df": raw.hash}},
        cache_reason="parameters changed: C",
        attempts=2,
        outputs={"model": new_version("model", kind="svm"), "score": new_version("score")},
        metadata={"loss": 0.25, "history": [1, 0.5]},
        output_metadata={"model": {"accuracy": 0.9}, "score": {}},
    )
    assert list(records) == ["model", "score"]
    model = records["model"]
    assert model.metadata == {"kind": "svm", "accuracy": 0.9}
    assert metadata_store.get_artifact_version_by_id(model.id) == model

    fit = metadata_store.get_step_run(fit_id)
    assert fit.status == "completed" and fit.cache_key == "key-fit" and not fit.cache_hit
    assert fit.cache_components == {"code": "c1", "inputs": {"df": raw.hash}}
    assert (fit.cache_reason, fit.attempts, fit.ended_at) == (
        "parameters changed: C",
        2,
        started + 2,
    )
    assert fit.inputs == {"df": raw.id}
    assert fit.outputs == {"model": model.id, "score": records["score"].id}
    assert fit.metadata == {"loss": 0.25, "history": [1, 0.5]}

    steps = metadata_store.get_step_runs(run.id)
    assert [s.id for s in steps] == [load_id, fit_id]
    assert steps[1] == fit
    assert metadata_store.get_step_runs(make_run(metadata_store).id) == []


def test_failed_step_run_is_recorded(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    step_id, records = run_step(
        metadata_store, run.id, "fit", status="failed", error="Traceback ...", attempts=3
    )
    assert records == {}
    step = metadata_store.get_step_run(step_id)
    assert (step.status, step.error, step.attempts, step.outputs) == (
        "failed",
        "Traceback ...",
        3,
        {},
    )


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


def test_step_run_bad_inputs(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    with pytest.raises(RunNotFoundError, match="'no-such-run'"):
        metadata_store.create_step_run(
            step_run_id="s", run_id="no-such-run", name="x", started_at=1.0, inputs={}
        )
    with pytest.raises(ArtifactNotFoundError, match=r"'df'.*'missing-version'"):
        metadata_store.create_step_run(
            step_run_id="s",
            run_id=run.id,
            name="x",
            started_at=1.0,
            inputs={"df": "missing-version"},
        )
    with pytest.raises(StoreError, match="'no-such-step'"):
        metadata_store.finish_step_run(
            "no-such-step", status="completed", ended_at=1.0, cache_key=None, cache_components={}
        )
    with pytest.raises(StoreError, match="'no-such-step'"):
        metadata_store.get_step_run("no-such-step")
    with pytest.raises(RunNotFoundError):
        metadata_store.get_step_runs("no-such-run")
    assert metadata_store.get_step_runs(run.id) == []


def test_record_skipped_step(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    run_step(metadata_store, run.id, "load", status="failed")
    metadata_store.record_skipped_step(
        run_id=run.id, name="fit", reason="upstream step 'load' failed", at=time.time()
    )
    steps = metadata_store.get_step_runs(run.id)
    assert [s.name for s in steps] == ["load", "fit"]
    skipped = steps[1]
    assert skipped.status == "skipped" and skipped.error == "upstream step 'load' failed"
    assert skipped.started_at is None and skipped.ended_at is not None
    with pytest.raises(RunNotFoundError):
        metadata_store.record_skipped_step(run_id="nope", name="x", reason="r", at=1.0)


def test_cache_hit_links_the_existing_version(metadata_store: MetadataStore) -> None:
    first = make_run(metadata_store)
    producer, out = run_step(
        metadata_store, first.id, "load", outputs={"raw": new_version("raw")}, cache_key="k"
    )
    raw = out["raw"]
    assert metadata_store.find_cached_step_run("k").id == producer  # type: ignore[union-attr]

    second = make_run(metadata_store)
    hit, linked = run_step(
        metadata_store,
        second.id,
        "load",
        outputs={"raw": raw.id},
        cache_key="k",
        cache_hit=True,
        cache_reason="same key as " + producer,
    )
    assert linked == {"raw": raw}  # same version: nothing new is numbered
    assert metadata_store.get_artifact_version("raw") == raw
    assert metadata_store.get_artifact_version_by_id(raw.id).producer_step_run_id == producer
    step = metadata_store.get_step_run(hit)
    assert step.cache_hit and step.outputs == {"raw": raw.id}

    cached = metadata_store.find_cached_step_run("k")
    assert cached is not None and cached.id == hit and cached.outputs == {"raw": raw.id}
    assert metadata_store.find_cached_step_run("other-key") is None


def test_find_cached_step_run_skips_failures(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    good, _ = run_step(metadata_store, run.id, "a", outputs={"o": new_version("o")}, cache_key="k")
    run_step(metadata_store, run.id, "a", status="failed", cache_key="k")
    running_id = uuid.uuid4().hex
    metadata_store.create_step_run(
        step_run_id=running_id, run_id=run.id, name="a", started_at=time.time(), inputs={}
    )
    found = metadata_store.find_cached_step_run("k")
    assert found is not None and found.id == good and set(found.outputs) == {"o"}


def test_previous_step_run_is_scoped_to_the_pipeline(metadata_store: MetadataStore) -> None:
    a1, a2, b = (
        make_run(metadata_store, "A"),
        make_run(metadata_store, "A"),
        make_run(metadata_store, "B"),
    )
    older, _ = run_step(metadata_store, a1.id, "fit", cache_components={"v": 1})
    newer, _ = run_step(metadata_store, a2.id, "fit", cache_components={"v": 2})
    run_step(metadata_store, a2.id, "fit", status="failed")
    run_step(metadata_store, b.id, "fit")
    previous = metadata_store.previous_step_run(pipeline="A", step="fit")
    assert previous is not None and previous.id == newer
    assert previous.cache_components == {"v": 2} and older != newer
    assert metadata_store.previous_step_run(pipeline="A", step="other") is None
    assert metadata_store.previous_step_run(pipeline="C", step="fit") is None


# -- atomicity -----------------------------------------------------------------------------


def _snapshot(store: MetadataStore) -> dict[str, int]:
    tables = ("artifact_versions", "step_io", "metadata_values", "runs", "step_runs")
    return {table: table_count(store, table) for table in tables}


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


def test_output_metadata_for_an_unknown_output_is_refused(
    metadata_store: MetadataStore,
) -> None:
    run = make_run(metadata_store)
    with pytest.raises(StoreError, match="typo"):
        run_step(
            metadata_store,
            run.id,
            "fit",
            outputs={"model": new_version("model")},
            output_metadata={"typo": {"a": 1}},
        )


# -- artifact versions ---------------------------------------------------------------------


def test_versions_count_per_name(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    versions = []
    for _ in range(3):
        _, out = run_step(
            metadata_store,
            run.id,
            "split",
            outputs={
                "train": new_version("train"),
                "test": new_version("test"),
                "extra": new_version("train"),
            },
        )
        versions.append((out["train"].version, out["extra"].version, out["test"].version))
    assert versions == [(1, 2, 1), (3, 4, 2), (5, 6, 3)]


def test_get_and_list_artifact_versions(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    made: list[ArtifactVersionRecord] = []
    for i in range(4):
        _, out = run_step(
            metadata_store,
            run.id,
            "s",
            outputs={"m": new_version("model", f"c{i}"), "d": new_version("data", f"d{i}")},
        )
        made.extend([out["m"], out["d"]])
    models = [r for r in made if r.name == "model"]

    assert metadata_store.get_artifact_version("model") == models[-1]
    assert metadata_store.get_artifact_version("model", 2) == models[1]
    assert metadata_store.get_artifact_version_by_id(models[0].id) == models[0]

    listed = metadata_store.list_artifact_versions(name="model")
    assert [r.version for r in listed] == [4, 3, 2, 1]
    assert [
        r.version for r in metadata_store.list_artifact_versions(name="model", limit=2, offset=1)
    ] == [3, 2]
    everything = metadata_store.list_artifact_versions()
    assert len(everything) == 8 and everything[0].created_at >= everything[-1].created_at
    assert {r.id for r in everything} == {r.id for r in made}
    assert len(metadata_store.list_artifact_versions(limit=3)) == 3
    assert metadata_store.list_artifact_versions(name="nothing") == []
    assert metadata_store.referenced_hashes() == {r.hash for r in made}


def test_unknown_artifacts_are_named(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    run_step(metadata_store, run.id, "s", outputs={"m": new_version("model")})
    with pytest.raises(ArtifactNotFoundError, match="no artifact named 'nothing'") as caught:
        metadata_store.get_artifact_version("nothing")
    assert isinstance(caught.value, KeyError)
    with pytest.raises(ArtifactNotFoundError, match=r"'model' has no version 7.*latest is 1"):
        metadata_store.get_artifact_version("model", 7)
    with pytest.raises(ArtifactNotFoundError, match="'nothing' has no version 2"):
        metadata_store.get_artifact_version("nothing", 2)
    with pytest.raises(ArtifactNotFoundError, match="'bad-id'"):
        metadata_store.get_artifact_version_by_id("bad-id")


# -- lineage -----------------------------------------------------------------------------------


def test_lineage_follows_producers_up_and_consumers_down(
    metadata_store: MetadataStore,
) -> None:
    s = metadata_store
    # run 1: load -> raw; split(raw) -> train, test; fit(train) -> model; evaluate -> report
    r1 = make_run(s)
    load1, o = run_step(s, r1.id, "load", outputs={"raw": new_version("raw")})
    raw = o["raw"].id
    split1, o = run_step(
        s,
        r1.id,
        "split",
        inputs={"df": raw},
        outputs={"train": new_version("train"), "test": new_version("test")},
    )
    train, test = o["train"].id, o["test"].id
    fit1, o = run_step(
        s, r1.id, "fit", inputs={"data": train}, outputs={"model": new_version("model")}
    )
    model1 = o["model"].id
    evaluate1, o = run_step(
        s,
        r1.id,
        "evaluate",
        inputs={"model": model1, "data": test},
        outputs={"report": new_version("report")},
    )
    report = o["report"].id
    # run 2: load and split are cache hits linking the same versions; fit runs again
    r2 = make_run(s)
    run_step(s, r2.id, "load", outputs={"raw": raw}, cache_hit=True)
    split2, _ = run_step(
        s,
        r2.id,
        "split",
        inputs={"df": raw},
        outputs={"train": train, "test": test},
        cache_hit=True,
    )
    fit2, o = run_step(
        s, r2.id, "fit", inputs={"data": train}, outputs={"model": new_version("model")}
    )
    model2 = o["model"].id

    up = s.lineage_upstream(model2)
    assert up.root == model2
    assert set(up.artifacts) == {model2, train, raw}
    assert set(up.step_runs) == {fit2, split1, load1}  # producers, not the cache hits
    assert {(e.source, e.target, e.name) for e in up.edges} == {
        (load1, raw, "raw"),
        (raw, split1, "df"),
        (split1, train, "train"),
        (train, fit2, "data"),
        (fit2, model2, "model"),
    }
    assert up.step_runs[split1].outputs == {"train": train, "test": test}

    down = s.lineage_downstream(raw)
    assert set(down.artifacts) == {raw, train, test, model1, model2, report}
    assert set(down.step_runs) == {split1, split2, fit1, fit2, evaluate1}
    assert {(e.source, e.target, e.name) for e in down.edges} == {
        (raw, split1, "df"),
        (raw, split2, "df"),
        (split1, train, "train"),
        (split1, test, "test"),
        (split2, train, "train"),
        (split2, test, "test"),
        (train, fit1, "data"),
        (train, fit2, "data"),
        (fit1, model1, "model"),
        (fit2, model2, "model"),
        (model1, evaluate1, "model"),
        (test, evaluate1, "data"),
        (evaluate1, report, "report"),
    }
    assert_well_formed(up)
    assert_well_formed(down)
    leaf = s.lineage_downstream(report)
    assert set(leaf.artifacts) == {report} and leaf.step_runs == {} and leaf.edges == []
    source = s.lineage_upstream(raw)
    assert set(source.step_runs) == {load1} and source.edges[0].name == "raw"
    with pytest.raises(ArtifactNotFoundError, match="'nope'"):
        s.lineage_upstream("nope")
    with pytest.raises(ArtifactNotFoundError, match="'nope'"):
        s.lineage_downstream("nope")


def assert_well_formed(graph: LineageGraph) -> None:
    """Every edge joins an artifact and a step run of the graph, in a valid direction."""
    for edge in graph.edges:
        if edge.source in graph.artifacts:
            assert edge.target in graph.step_runs
            assert graph.step_runs[edge.target].inputs[edge.name] == edge.source
        else:
            assert edge.source in graph.step_runs and edge.target in graph.artifacts
            assert graph.step_runs[edge.source].outputs[edge.name] == edge.target
    assert graph.root in graph.artifacts
    assert len(set(graph.edges)) == len(graph.edges)


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


# -- concurrency ---------------------------------------------------------------------------------


def test_threads_share_one_store(metadata_store: MetadataStore) -> None:
    run = make_run(metadata_store)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                run_step(
                    metadata_store,
                    run.id,
                    "t",
                    outputs={"a": new_version("shared"), "b": new_version("shared")},
                )
                metadata_store.list_runs(limit=5)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    versions = sorted(r.version for r in metadata_store.list_artifact_versions(name="shared"))
    assert versions == list(range(1, 81))
    assert len(metadata_store.get_step_runs(run.id)) == 40


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


def test_store_errors_are_headrace_errors(metadata_store: MetadataStore) -> None:
    """What a caller may catch: every failure is a HeadraceError, never a driver error."""
    run = make_run(metadata_store)
    calls = [
        lambda: metadata_store.get_run("x"),
        lambda: metadata_store.resolve_run_id("zz"),
        lambda: metadata_store.get_artifact_version("x"),
        lambda: metadata_store.add_run_metadata(run.id, {"bad": {1, 2}}),
        lambda: make_run(metadata_store, run_id=run.id),
    ]
    for call in calls:
        with pytest.raises(HeadraceError):
            call()
