"""The ready-made steps: plain calls outside a pipeline, and a whole pipeline run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import pytest

import headrace.data as hd
from headrace.data import steps
from headrace.errors import ConfigError

from .frames import daily, drift_pair


def mean_model(train: pd.DataFrame) -> float:
    return float(train["y"].mean())


def mae(model: float, test: pd.DataFrame) -> float:
    return float((test["y"] - model).abs().mean())


def test_steps_are_headrace_steps() -> None:
    from headrace import Step

    for name in steps.__all__:
        assert isinstance(getattr(steps, name), Step), name
    assert [o.name for o in steps.time_split_step.outputs] == ["train", "test"]
    assert [o.name for o in steps.drift_step.outputs] == ["drift_report"]
    assert [o.name for o in steps.validate_step.outputs] == ["validation_report"]


def test_validate_step_raises_or_warns() -> None:
    reference = daily()
    bad = reference.assign(x=reference["x"] * 100)
    assert steps.validate_step(reference, reference=reference).passed
    with pytest.raises(hd.ValidationFailedError, match="x: less_than_or_equal_to"):
        steps.validate_step(bad, reference=reference)
    with pytest.warns(hd.DataWarning, match="validation failed"):
        report = steps.validate_step(bad, hd.infer_schema(reference), on_fail="warn")
    assert not report.passed
    assert not steps.validate_step(bad, reference=reference, on_fail="ignore").passed
    with pytest.raises(ConfigError, match="schema or a reference"):
        steps.validate_step(bad)
    with pytest.raises(ConfigError, match="'raise', 'warn' or 'ignore'"):
        steps.validate_step(bad, reference=reference, on_fail="explode")  # type: ignore[arg-type]


def test_drift_and_split_steps() -> None:
    reference, current = drift_pair(seed=0, n=600, m=600)
    with pytest.warns(hd.DataWarning, match="data drift"):
        steps.drift_step(reference, current, columns=["num_shift", "cat_shift"])
    with pytest.raises(hd.DriftDetectedError, match="'num_shift'"):
        steps.drift_step(reference, current, columns=["num_shift"], on_drift="raise")
    assert steps.drift_step(reference, reference).passed
    train, test = steps.time_split_step(daily(), on="date", test_from="last quarter")
    assert (len(train), len(test)) == (639, 92)


def test_backtest_step_names_its_functions() -> None:
    report = steps.backtest_step(daily(), f"{__name__}:mean_model", f"{__name__}:mae")
    assert len(report.folds) == 7
    assert steps.backtest_step(daily(), mean_model, mae) == report
    with pytest.raises(ConfigError, match="module:function"):
        steps.backtest_step(daily(), "mean_model", "mae")
    with pytest.raises(ConfigError, match="cannot be imported"):
        steps.backtest_step(daily(), f"{__name__}:nothing", "mae")


def test_slice_and_diff_steps() -> None:
    df = pd.DataFrame(
        {
            "y_true": [1, 0, 1, 0] * 10,
            "y_pred": [1, 0, 0, 0] * 10,
            "group": ["a", "a", "b", "b"] * 10,
        }
    )
    with pytest.warns(hd.DataWarning, match="fairness gap"):
        report = steps.slice_metrics_step(df, by="group", min_size=5)
    assert report.equal_opportunity_difference == pytest.approx(1.0)
    assert report.demographic_parity_difference == pytest.approx(0.5)
    assert steps.diff_step(df, df).identical


def test_a_pipeline_of_data_steps(home: Path) -> None:
    from headrace import pipeline, step

    @step
    def load() -> Annotated[pd.DataFrame, "raw"]:
        frame = daily()
        frame["prediction"] = (frame["x"] > 0).astype(int)
        frame["label"] = (frame["y"] > 0).astype(int)
        return frame

    @pipeline
    def monitor() -> None:
        raw = load()
        steps.validate_step(raw, reference=raw)
        train, test = steps.time_split_step(raw, on="date", test_from="last quarter")
        steps.drift_step(train, test, columns=["x", "y"], on_drift="ignore")
        steps.slice_metrics_step(raw, by="segment", y_true="label", y_pred="prediction")
        steps.backtest_step(raw, f"{__name__}:mean_model", f"{__name__}:mae")
        steps.diff_step(train, test)

    run = monitor()
    assert run.status == "completed"
    expected = {
        "validate_step": ("validation_report", hd.ValidationReport),
        "drift_step": ("drift_report", hd.DriftReport),
        "slice_metrics_step": ("slice_report", hd.SliceReport),
        "backtest_step": ("backtest_report", hd.BacktestReport),
        "diff_step": ("diff_report", hd.DiffReport),
    }
    for step_name, (output, report_type) in expected.items():
        artifact = run.steps[step_name].outputs[output]
        report = artifact.load()
        assert isinstance(report, report_type)
        assert artifact.metadata["passed"] is report.passed
        assert artifact.metadata["verdict"] == report.verdict
