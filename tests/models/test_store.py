"""The model store on SQLite and PostgreSQL: versions, links, aliases, promotions,
schedules, and version numbers that stay unique under concurrent writers."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from headrace.errors import ArtifactNotFoundError, ModelNotFoundError, RunNotFoundError, StoreError
from headrace.store.metadata.registry import ModelStore
from headrace.store.metadata.store import SqlMetadataStore as MetadataStore
from headrace.store.records import NewArtifactVersion


def _run_with_output(store: MetadataStore, name: str = "model") -> tuple[str, str]:
    run_id = uuid.uuid4().hex
    store.create_run(
        run_id=run_id,
        pipeline="p",
        parameters={},
        spec={},
        environment_hash=None,
        started_at=time.time(),
    )
    step_run_id = uuid.uuid4().hex
    store.create_step_run(
        step_run_id=step_run_id, run_id=run_id, name="fit", started_at=time.time(), inputs={}
    )
    records = store.finish_step_run(
        step_run_id,
        status="completed",
        ended_at=time.time(),
        cache_key=None,
        cache_components={},
        outputs={
            name: NewArtifactVersion(
                name=name,
                hash="ab" * 32,
                uri="x",
                type="t",
                materializer="json",
                size=1,
                metadata={},
            )
        },
    )
    return run_id, records[name].id


def test_versions_aliases_and_history(metadata_store: Any) -> None:
    store = ModelStore.of(metadata_store)
    run_id, artifact_id = _run_with_output(metadata_store)
    v1 = store.create_version(
        "churn",
        run_id=run_id,
        artifacts={"model": (artifact_id, "model")},
        metadata={"metrics": {"a": 1}},
    )
    v2 = store.create_version("churn", run_id=None, artifacts={}, metadata={})
    assert (v1.version, v2.version) == (1, 2)
    assert store.get_version("churn", 1).artifacts == {"model": artifact_id}
    assert store.get_version("churn", "latest").id == v2.id
    assert store.get_version("churn", v1.id).version == 1
    assert [v.id for v in store.versions_of_artifact(artifact_id)] == [v1.id]

    store.set_alias(
        "churn", "production", v1.id, actor="a", reason="r", checks=[{"gate": "x", "passed": True}]
    )
    moved = store.set_alias("churn", "production", v2.id, actor="b", reason=None, checks=[])
    assert (moved.previous_version, moved.version) == (1, 2)
    assert store.alias_target("churn", "production") == v2.id
    assert store.get_version("churn", "production").aliases == ("production",)
    assert [(h.version, h.previous_version, h.actor) for h in store.history("churn")] == [
        (2, 1, "b"),
        (1, None, "a"),
    ]
    assert store.list_models()[0].aliases == {"production": 2}
    updated = store.update_metadata(v1.id, {"drift": {"verdict": "no drift"}})
    assert updated.metadata == {"metrics": {"a": 1}, "drift": {"verdict": "no drift"}}

    with pytest.raises(ModelNotFoundError):
        store.get_version("nope", 1)
    with pytest.raises(ModelNotFoundError):
        store.get_version("churn", "staging")
    with pytest.raises(RunNotFoundError):
        store.create_version("churn", run_id="missing", artifacts={}, metadata={})
    with pytest.raises(ArtifactNotFoundError):
        store.create_version(
            "churn", run_id=None, artifacts={"m": ("missing", "model")}, metadata={}
        )
    assert [v.version for v in store.list_versions("churn")] == [2, 1]  # nothing half-written


def test_concurrent_writers_get_distinct_version_numbers(metadata_store_url: str) -> None:
    stores = [MetadataStore.open(metadata_store_url) for _ in range(4)]
    try:
        numbers: list[int] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(len(stores))

        def register(store: MetadataStore) -> None:
            barrier.wait()
            try:
                for _ in range(5):
                    numbers.append(
                        ModelStore.of(store)
                        .create_version("m", run_id=None, artifacts={}, metadata={})
                        .version
                    )
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=register, args=(s,)) for s in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert sorted(numbers) == list(range(1, 21))
    finally:
        for store in stores:
            store.close()


def test_schedules_are_claimed_once(metadata_store: Any) -> None:
    store = ModelStore.of(metadata_store)
    store.add_schedule(
        "s", target="f.py:p", cron="* * * * *", parameters={"a": 1}, next_run_at=100.0
    )
    with pytest.raises(StoreError, match="already exists"):
        store.add_schedule("s", target="f.py:p", cron="* * * * *", parameters={}, next_run_at=1.0)
    assert store.claim_due(50.0, "o1", stale_after=3600) == []
    assert [s.name for s in store.claim_due(150.0, "o1", stale_after=3600)] == ["s"]
    assert store.claim_due(160.0, "o2", stale_after=3600) == []
    assert [s.owner for s in store.claim_due(150.0 + 7200, "o2", stale_after=3600)] == [
        "o2"
    ]  # stale
    store.finish_schedule("s", owner="o2", status="completed", ran_at=160.0, next_run_at=400.0)
    (record,) = store.list_schedules()
    assert (
        record.running_since is None
        and record.last_status == "completed"
        and record.next_run_at == 400.0
    )
    store.remove_schedule("s")
    with pytest.raises(StoreError):
        store.remove_schedule("s")
