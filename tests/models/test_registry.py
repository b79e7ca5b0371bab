"""The model registry: versions from runs, aliases, gated promotion and its audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pytest

from headrace import Client, HeadraceError, Model, StepError, pipeline, step
from headrace.errors import ModelNotFoundError
from headrace.models import GateError, PromotionRefusedError


def _state(client: Client) -> tuple[Any, ...]:
    churn = client.model("churn")
    return churn.aliases, [(h.alias, h.version) for h in churn.history()]


def test_each_completed_run_is_a_version_linking_its_run_and_artifacts(trained: Path) -> None:
    client = Client()
    churn = client.model("churn")
    v1, v2 = churn.version(1), churn.version(2)
    assert [v.version for v in churn.versions()] == [2, 1]
    assert churn.version("latest").id == v2.id
    assert v1.run is not None and v1.run.status == "completed"
    assert v1.run_id != v2.run_id
    assert v1.record.roles == {
        "model": "model",
        "metrics": "metrics",
        "train": "data",
        "test": "output",
    }
    assert v1.model_artifact.id == v1.run.steps["fit"].outputs["model"].id
    assert (
        v1.artifacts_with_role("data")[0].id == v1.run.steps["load_customers"].outputs["train"].id
    )
    assert 0.5 < v1.metrics["accuracy"] <= 1
    assert set(v1.latency) == {"1", "32"} and v1.latency["1"]["p99_ms"] > 0
    assert v1.signature is not None
    assert [i["name"] for i in v1.signature["inputs"]] == [
        "tenure_months",
        "monthly_spend",
        "support_calls",
    ]
    assert [i["type"] for i in v1.signature["inputs"]] == ["number", "number", "integer"]
    model = v1.load()
    frame = v1.artifacts["test"].load()
    assert len(model.predict(frame[["tenure_months", "monthly_spend", "support_calls"]])) == len(
        frame
    )
    assert [m.name for m in client.models()] == ["churn"]
    assert client.models()[0].latest_version == 2


def test_promotion_through_gates_is_recorded(trained: Path) -> None:
    churn = Client().model("churn")
    first = churn.promote(
        1, to="production", require={"accuracy >= 0.5", "p99_ms <= 1000"}, reason="first"
    )
    assert first.previous_version is None and first.actor == "tester"
    assert [c["passed"] for c in first.checks] == [True, True]
    second = churn.promote(
        "latest", to="production", require=["accuracy > 0"], actor="ci", reason="better"
    )
    assert second.previous_version == 1 and second.version == 2
    assert churn.version("production").version == 2
    assert churn.aliases == {"production": 2}
    history = churn.history()
    assert [(h.alias, h.version, h.previous_version, h.actor, h.reason) for h in history] == [
        ("production", 2, 1, "ci", "better"),
        ("production", 1, None, "tester", "first"),
    ]
    assert history[0].created_at >= history[1].created_at


def test_a_version_holds_one_stage_and_each_stage_one_version(trained: Path) -> None:
    churn = Client().model("churn")
    churn.promote(1, to="staging")
    churn.promote(2, to="staging")
    assert churn.version("staging").version == 2
    assert churn.version(1).aliases == ()
    churn.promote(2, to="production")
    assert churn.version(2).aliases == ("production",)
    churn.promote(1, to="archived")
    churn.promote(1, to="champion")  # a custom alias sits beside a stage
    assert churn.version(1).aliases == ("archived", "champion")
    with pytest.raises(ModelNotFoundError, match="has no alias or version id 'staging'"):
        churn.version("staging")


def test_a_failed_gate_refuses_with_every_reason_and_changes_nothing(trained: Path) -> None:
    client = Client()
    churn = client.model("churn")
    churn.promote(1, to="production")
    before = _state(client)
    with pytest.raises(PromotionRefusedError) as caught:
        churn.promote(2, to="production", require={"accuracy >= 0.99", "p99_ms <= 0.0001"})
    assert len(caught.value.reasons) == 2
    assert "accuracy = " in str(caught.value) and "fails >= 0.99" in str(caught.value)
    assert "p99_ms = " in str(caught.value)
    assert _state(client) == before


def test_an_unknown_metric_is_a_refusal_naming_what_was_recorded(trained: Path) -> None:
    client = Client()
    before = _state(client)
    with pytest.raises(PromotionRefusedError, match=r"unknown metric 'f1' \(recorded: accuracy\)"):
        client.model("churn").promote(1, to="production", require={"f1 >= 0.5"})
    with pytest.raises(PromotionRefusedError, match="no latency at batch size 8"):
        client.model("churn").promote(1, to="production", require={"p99_ms@8 <= 5"})
    assert _state(client) == before


@pytest.mark.parametrize(
    "gate", ["accuracy >> 0.8", "accuracy", "0.8 <= accuracy", "accuracy@3 >= 1", "p99 <= x"]
)
def test_a_malformed_gate_is_an_error_before_anything_is_checked(trained: Path, gate: str) -> None:
    client = Client()
    before = _state(client)
    with pytest.raises(GateError):
        client.model("churn").promote(1, to="production", require={gate})
    assert _state(client) == before


def test_gates_given_as_a_mapping(trained: Path) -> None:
    churn = Client().model("churn")
    record = churn.promote(1, to="staging", require={"accuracy": 0.5, "p95_ms": "<= 1000"})
    assert sorted(c["gate"] for c in record.checks) == ["accuracy >= 0.5", "p95_ms <= 1000"]


def test_the_drift_gate_reads_the_latest_drift_check(trained: Path) -> None:
    import pandas as pd

    from headrace.data import drift

    churn = Client().model("churn")
    with pytest.raises(PromotionRefusedError, match="no drift check is recorded"):
        churn.promote(1, to="production", require={"no drift"})
    train = churn.version(1).artifacts["train"].load()[["monthly_spend"]]
    churn.version(1).record_drift(drift(train, train))
    churn.promote(1, to="production", require={"no drift"})
    shifted = pd.DataFrame({"monthly_spend": train["monthly_spend"] + 40})
    report = drift(train, shifted)
    assert not report.passed
    churn.version(2).record_drift(report)
    with pytest.raises(PromotionRefusedError, match="latest drift check: drift"):
        churn.promote(2, to="production", require={"no drift"})
    with pytest.raises(PromotionRefusedError, match="drift report: drift"):
        churn.promote(2, to="production", require=[report])
    assert churn.version("production").version == 1


@pytest.mark.parametrize(
    ("name", "ref", "message"),
    [
        ("nope", "latest", "no model named 'nope' (known: churn)"),
        ("churn", "production", "model 'churn' has no alias or version id 'production'"),
        ("churn", 9, "model 'churn' has no version 9"),
    ],
)
def test_unknown_models_versions_and_aliases(
    trained: Path, name: str, ref: Any, message: str
) -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        Client().model(name).version(ref)
    assert isinstance(caught.value, KeyError)
    assert message in str(caught.value)


def test_promoting_a_missing_version_changes_nothing(trained: Path) -> None:
    client = Client()
    before = _state(client)
    with pytest.raises(ModelNotFoundError):
        client.model("churn").promote(7, to="production")
    with pytest.raises(HeadraceError, match="cannot be an alias"):
        client.model("churn").promote(1, to="latest")
    with pytest.raises(HeadraceError):
        client.model("churn").promote(1, to="bad alias!")
    assert _state(client) == before


@step
def make(n: int = 3) -> Annotated[list[int], "model"]:
    return list(range(n))


@step
def explode(model: list[int]) -> Annotated[dict[str, float], "metrics"]:
    raise ValueError("no metrics today")


@step
def score(model: list[int]) -> Annotated[dict[str, float], "metrics"]:
    return {"accuracy": 0.9, "size": float(len(model))}


@pipeline(model="tiny")
def tiny(n: int = 3) -> None:
    score(make(n=n))


@pipeline
def broken() -> None:
    explode(make())


def test_a_failed_run_registers_nothing_and_with_options_attaches_a_model(home: Path) -> None:
    client = Client()
    with pytest.raises(StepError):
        broken.with_options(model=Model("tiny"))()
    with pytest.raises(ModelNotFoundError):
        client.model("tiny").version()
    run = tiny(n=4)
    version = client.model("tiny").version()
    assert version.run_id == run.id and version.metrics == {"accuracy": 0.9, "size": 4.0}
    assert version.signature is None and version.load() == [0, 1, 2, 3]
    again = tiny.with_options(model=Model("tiny2", metrics=None))(n=2)
    assert client.model("tiny2").version().run_id == again.id
    assert client.model("tiny2").version().metrics == {}


def test_a_run_without_the_model_artifact_is_an_error(home: Path) -> None:
    with pytest.raises(HeadraceError, match="produced no artifact 'weights'"):
        tiny.with_options(model=Model("tiny", artifact="weights"))()


def test_model_names_and_signatures_are_checked() -> None:
    from headrace import DefinitionError

    with pytest.raises(DefinitionError):
        Model("has space")
    with pytest.raises(DefinitionError):
        Model("m", signature={"x": "float64"})
    with pytest.raises(DefinitionError):
        pipeline(model=3)(lambda: None)  # type: ignore[call-overload]


def test_a_bare_number_is_a_ceiling_for_latency_and_a_floor_for_metrics() -> None:
    from headrace.models.gates import normalize

    gates = normalize({"p99_ms": 20, "p99_ms@32": 40, "accuracy": 0.8, "f1": ">= 0.5"})
    assert gates == ["accuracy >= 0.8", "f1 >= 0.5", "p99_ms <= 20", "p99_ms@32 <= 40"]
