"""Latency as a recorded measurement that promotion gates read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from headrace import Client, HeadraceError
from headrace.models import measure_latency
from headrace.models.latency import percentile

FEATURES = ["tenure_months", "monthly_spend", "support_calls"]


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99
    assert percentile(values, 100) == 100 and percentile([3.0], 99) == 3.0


def test_measuring_a_version_records_percentiles_per_batch_size(trained: Path) -> None:
    churn = Client().model("churn")
    version = churn.version(1)
    sample = version.artifacts["test"].load()[FEATURES]
    result = measure_latency(version, sample, batch_sizes=(1, 8, 500), repeats=30)
    assert set(result) == {"1", "8", "500"}
    for row in result.values():
        assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"]
        assert row["samples"] == 30
    stored = churn.version(1).latency
    assert stored["8"] == result["8"] and "32" in stored  # merged with what training measured
    churn.promote(1, to="staging", require={"p99_ms@8 <= 10000"})


def test_a_plain_model_outside_a_step_is_only_measured(trained: Path) -> None:
    version = Client().model("churn").version(2)
    sample = version.artifacts["test"].load()[FEATURES]
    result = measure_latency(version.load(), sample, batch_sizes=(4,), repeats=5, warmup=0)
    assert result["4"]["samples"] == 5
    assert "4" not in Client().model("churn").version(2).latency


@pytest.mark.parametrize(
    "kwargs", [{"batch_sizes": ()}, {"batch_sizes": (0,)}, {"repeats": 0}, {"method": "nope"}]
)
def test_bad_arguments(kwargs: dict[str, object]) -> None:
    class Echo:
        def predict(self, x: object) -> object:
            return x

    with pytest.raises(HeadraceError):
        measure_latency(Echo(), [[1.0]], **kwargs)  # type: ignore[arg-type]
    with pytest.raises(HeadraceError):
        measure_latency(Echo(), [])


def test_the_ready_step_records_on_the_registered_version(home: Path) -> None:
    from typing import Annotated, Any

    from headrace import Model, pipeline, step
    from headrace.serving.monitoring import latency

    @step
    def doubler() -> Annotated[Any, "model"]:
        return Doubler()

    @step
    def sample() -> Annotated[list[list[float]], "sample"]:
        return [[float(i)] for i in range(10)]

    @pipeline(model=Model("doubler", metrics=None))
    def build() -> None:
        latency(doubler(), sample(), batch_sizes=[1, 4], repeats=20)

    run = build()
    version = Client().model("doubler").version()
    assert version.run_id == run.id
    assert set(version.latency) == {"1", "4"}
    assert run.steps["latency"].outputs["latency"].load()["4"]["samples"] == 20


@dataclass
class Doubler:
    factor: float = 2.0

    def predict(self, rows: list[list[float]]) -> list[float]:
        return [self.factor * r[0] for r in rows]


def test_a_batch_larger_than_the_sample_wraps_to_full_size() -> None:
    import pandas as pd

    from headrace.models.latency import _slicer

    take = _slicer(pd.DataFrame({"x": range(10)}))
    batch = take(7, 32)
    assert len(batch) == 32
    assert list(batch["x"][:5]) == [7, 8, 9, 0, 1]
