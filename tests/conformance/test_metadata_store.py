"""Behaviour every metadata store implementation must show, through the protocol only.

Each test runs on every implementation the `metadata_store` fixture is parametrized
over (see conftest.py): a real SQLite file and the real PostgreSQL server today, each
opened through its flavor exactly as a stack opens it. Tests of the SQL implementation's
own machinery (schema creation, query counts) live in tests/store/test_sql_metadata_store.py."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from headrace.errors import (
    ArtifactNotFoundError,
    ConfigError,
    HeadraceError,
    RunNotFoundError,
    StoreError,
)
from headrace.store.protocols import MetadataStore
from headrace.store.records import (
    ArtifactVersionRecord,
)

from .helpers import assert_well_formed, make_run, new_version, run_step


def test_environments_are_deduplicated(metadata_store: MetadataStore) -> None:
    metadata_store.put_environment("env1", {"python": "3.11", "packages": {"numpy": "2.0"}})
    metadata_store.put_environment("env1", {"python": "other"})  # already there: ignored
    assert metadata_store.get_environment("env1") == {
        "python": "3.11",
        "packages": {"numpy": "2.0"},
    }
    with pytest.raises(StoreError, match="nope"):
        metadata_store.get_environment("nope")


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
    from headrace.store.records import MetricCondition, MetricPoint, RunRecord

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
