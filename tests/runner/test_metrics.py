"""Metric history: ``log_metric`` points per step run, read back, shown and queried."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import pytest

from headrace import Client, HeadraceError, StepError, get_step_context, log_metric, pipeline, step
from headrace.errors import ConfigError

EPOCHS = 1000


@step(cache=False)
def train(final: float = 0.95, epochs: int = EPOCHS) -> Annotated[int, "epochs"]:
    for epoch in range(epochs):
        log_metric("accuracy", final * (epoch + 1) / epochs, step=epoch)
        log_metric("loss", 1.0 - final * (epoch + 1) / epochs)  # steps 0, 1, 2, ...
    points = get_step_context().metric_points  # what hooks may forward
    assert len(points) == 2 * epochs and points[0].name == "accuracy"
    return epochs


@pipeline
def training(final: float = 0.95, epochs: int = EPOCHS) -> None:
    train(final=final, epochs=epochs)


@step(cache=False)
def diverge() -> Annotated[int, "never"]:
    log_metric("loss", 0.5)
    log_metric("loss", 7.0)
    raise RuntimeError("loss diverged")


@pipeline
def diverging() -> None:
    diverge()


def test_a_per_epoch_log_reads_back_in_order(home: Path) -> None:
    run = training()
    history = run.steps["train"].metrics()
    assert set(history) == {"accuracy", "loss"}
    accuracy = history["accuracy"]
    assert len(accuracy) == EPOCHS
    assert [p.step for p in accuracy] == list(range(EPOCHS))
    assert [p.value for p in accuracy] == [0.95 * (e + 1) / EPOCHS for e in range(EPOCHS)]
    stamps = [p.timestamp for p in accuracy]
    assert stamps == sorted(stamps) and run.record.started_at <= stamps[0]
    assert [p.step for p in history["loss"]] == list(range(EPOCHS))  # step=None counts up
    assert list(run.steps["train"].metrics("loss")) == ["loss"]
    assert run.metrics() == {"accuracy": pytest.approx(0.95), "loss": pytest.approx(0.05)}


def test_runs_are_filtered_on_the_last_value_of_a_metric(home: Path) -> None:
    low = training(final=0.8, epochs=20)
    high = training(final=0.95, epochs=20)
    client = Client()
    assert [r.id for r in client.runs(where="accuracy > 0.9")] == [high.id]
    assert [r.id for r in client.runs(where="accuracy <= 0.9")] == [low.id]
    assert {r.id for r in client.runs(where="accuracy >= 0.8 and loss < 0.25")} == {low.id, high.id}
    assert client.runs(where="accuracy > 0.9 and loss > 0.1") == []
    assert client.runs(where="recall > 0") == []  # no run logged it
    assert [r.id for r in client.runs(where="accuracy == 0.95", limit=1)] == [high.id]
    assert [r.id for r in client.runs(pipeline="training", where="accuracy != 0.95")] == [low.id]


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("", "is empty"),
        ("accuracy", "cannot read 'accuracy'"),
        ("accuracy >> 0.9", "cannot read"),
        ("accuracy > high", "'high' in 'accuracy > high' is not a number"),
        ("accuracy > 0.9 or loss < 1", "only 'and' joins conditions"),
        ("0.9 < accuracy", "cannot read"),
        ("accuracy > nan", "not a finite number"),
    ],
)
def test_a_bad_expression_is_a_clear_error(home: Path, expression: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match="--where") as info:
        Client().runs(where=expression)
    assert fragment in str(info.value)


def test_a_failed_step_keeps_the_points_it_logged(home: Path) -> None:
    with pytest.raises(StepError) as info:
        diverging()
    failed = Client().run(info.value.run_id or "")
    assert [p.value for p in failed.steps["diverge"].metrics()["loss"]] == [0.5, 7.0]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("", 1.0), "non-empty string"),
        (("acc", "0.9"), "must be a number, got a str"),
        (("acc", True), "must be a number, got a bool"),
        (("acc", math.nan), "must be finite"),
        (("acc", 1.0, -1), "non-negative integer"),
        (("acc", 1.0, 1.5), "non-negative integer"),
    ],
)
def test_bad_points_are_refused(home: Path, args: tuple[object, ...], fragment: str) -> None:
    @step(cache=False)
    def bad() -> None:
        log_metric(*args)  # type: ignore[arg-type]

    @pipeline
    def flow() -> None:
        bad()

    with pytest.raises(StepError, match=fragment):
        flow()


def test_log_metric_outside_a_step_is_an_error() -> None:
    with pytest.raises(HeadraceError, match="only available inside a running step"):
        log_metric("accuracy", 0.9)
