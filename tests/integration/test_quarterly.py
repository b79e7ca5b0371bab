"""The quarterly example end to end on a real SQLite file and artifact folder:
caching, miss reasons, lineage and the environment snapshot."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from headrace import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from quarterly import quarterly

SMALL = {"n": 800}


@pytest.fixture
def first_run(home: Path):  # type: ignore[no-untyped-def]
    return quarterly(**SMALL)


def test_first_run_computes_everything(first_run) -> None:  # type: ignore[no-untyped-def]
    run = first_run
    assert run.status == "completed"
    assert list(run.steps) == ["load_data", "split_by_quarter", "fit", "evaluate"]
    assert not any(s.cache_hit for s in run.steps.values())
    assert run.steps["load_data"].cache_reason == "no earlier run of this step"
    metrics = run.steps["evaluate"].outputs["metrics"].load()
    assert 0.5 < metrics["accuracy"] <= 1.0
    train = run.steps["split_by_quarter"].outputs["train"].load()
    test = run.steps["split_by_quarter"].outputs["test"].load()
    assert set(train["date"].dt.quarter) == {1, 2, 3}
    assert set(test["date"].dt.quarter) == {4}
    assert run.steps["split_by_quarter"].metadata == {
        "train_rows": len(train),
        "test_rows": len(test),
    }
    raw = run.steps["load_data"].outputs["raw"]
    assert raw.version == 1 and raw.metadata["rows"] == 800
    assert Client().artifact("metrics").metadata["accuracy"] == metrics["accuracy"]


def test_second_identical_run_is_all_cache_hits(first_run) -> None:  # type: ignore[no-untyped-def]
    again = quarterly(**SMALL)
    assert all(s.cache_hit for s in again.steps.values())
    assert again.steps["fit"].outputs["model"].id == first_run.steps["fit"].outputs["model"].id
    assert "same inputs, parameters and code" in (again.steps["fit"].cache_reason or "")
    assert Client().artifact("model").version == 1  # a hit makes no new version


def test_changing_a_parameter_reruns_only_what_depends_on_it(first_run) -> None:  # type: ignore[no-untyped-def]
    run = quarterly(C=0.05, **SMALL)
    hits = {name: s.cache_hit for name, s in run.steps.items()}
    assert hits == {"load_data": True, "split_by_quarter": True, "fit": False, "evaluate": False}
    assert run.steps["fit"].cache_reason == "parameter C changed (1.0 -> 0.05)"
    assert "input model changed" in (run.steps["evaluate"].cache_reason or "")
    assert Client().artifact("model").version == 2
    assert Client().artifact("model", version=1).hash != Client().artifact("model").hash


def test_recomputed_identical_data_keeps_downstream_cached(first_run) -> None:  # type: ignore[no-untyped-def]
    run = quarterly.with_options(steps={"load_data": {"cache": False}})(**SMALL)
    steps = run.steps
    assert not steps["load_data"].cache_hit
    assert steps["load_data"].cache_reason == "caching is off for this step"
    # The data step ran again, produced the same bytes, and so nothing downstream reran.
    assert (
        steps["load_data"].outputs["raw"].hash == first_run.steps["load_data"].outputs["raw"].hash
    )
    assert steps["load_data"].outputs["raw"].version == 2
    assert all(steps[n].cache_hit for n in ("split_by_quarter", "fit", "evaluate"))


def test_lineage_from_the_model_reaches_the_raw_data(first_run) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    up = client.lineage(client.artifact("model")).upstream()
    assert up.names() == {"train", "raw"}
    assert {s.name for s in up.step_runs} == {"fit", "split_by_quarter", "load_data"}
    down = client.lineage(client.artifact("raw")).downstream()
    assert {"train", "test", "model", "metrics"} <= down.names()


def test_runs_are_listed_newest_first_and_filtered(first_run) -> None:  # type: ignore[no-untyped-def]
    second = quarterly(C=0.5, **SMALL)
    runs = Client().runs(pipeline="quarterly")
    assert [r.id for r in runs] == [second.id, first_run.id]
    assert Client().runs(pipeline="other") == []
    assert [r.id for r in Client().runs(status="completed", limit=1)] == [second.id]
    assert Client().run(first_run.id[:10]).id == first_run.id
    assert Client().run("latest").id == second.id


def test_environment_snapshot_is_recorded(first_run) -> None:  # type: ignore[no-untyped-def]
    env = first_run.environment
    assert env["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert "scikit-learn" in env["packages"]
    assert env["source"]["file"] == "quarterly.py"
    assert "def quarterly" in env["source"]["text"]


def test_step_artifacts_are_fetched_together_and_match_single_lookups(first_run) -> None:  # type: ignore[no-untyped-def]
    from headrace.errors import ArtifactNotFoundError

    client = Client()
    run = client.run(first_run.id)
    for step in run.steps.values():
        for name, artifact in {**step.inputs, **step.outputs}.items():
            assert artifact.record == client.artifact_by_id(artifact.id).record, name
    meta = client.stores.metadata
    ids = [a.id for a in client.artifacts()]
    assert set(meta.get_artifact_versions_by_ids(ids)) == set(ids)
    assert meta.get_artifact_versions_by_ids([]) == {}
    with pytest.raises(ArtifactNotFoundError, match="no artifact version with id 'nope'"):
        meta.get_artifact_versions_by_ids([ids[0], "nope"])
