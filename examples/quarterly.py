"""The quarterly example: synthetic customer data with a date column, made from a seed;
train on Q1-Q3, test on Q4, with scikit-learn — and look hard at the data while at it:
validate the raw data against a schema, report Q4 drift against Q1-Q3, backtest quarter
by quarter (how the model ages), and break the Q4 metrics down by region.

    python examples/quarterly.py            # runs the pipeline on the active home
    headrace run examples/quarterly.py:quarterly -p C=0.5
    headrace run examples/quarterly.py:quarterly_with_data_checks
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from headrace import log_metadata, pipeline, step

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from headrace.data import BacktestReport, DriftReport, SliceReport, ValidationReport

FEATURES = ("tenure_months", "monthly_spend", "support_calls", "discount")


@step
def load_data(n: int = 4000, seed: int = 7) -> Annotated[pd.DataFrame, "raw"]:
    """Customers of one year with a churn label that depends on the features."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    day = rng.integers(0, 365, n)
    frame = pd.DataFrame(
        {
            "date": pd.Timestamp("2025-01-01") + pd.to_timedelta(day, unit="D"),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "tenure_months": rng.gamma(2.0, 12.0, n).round(1),
            "monthly_spend": rng.normal(60.0, 18.0, n).round(2),
            "support_calls": rng.poisson(1.5, n),
            "discount": rng.random(n) < 0.3,
        }
    )
    # A price change in Q4: spend moves, the churn relation does not — drift to find.
    in_q4 = frame["date"].dt.quarter == 4
    frame.loc[in_q4, "monthly_spend"] = (frame.loc[in_q4, "monthly_spend"] * 1.25).round(2)
    logit = (
        -1.0
        - 0.05 * frame["tenure_months"]
        + 0.02 * (frame["monthly_spend"] - 60)
        + 0.6 * frame["support_calls"]
        - 0.8 * frame["discount"]
    )
    frame["churned"] = rng.random(n) < 1 / (1 + np.exp(-logit))
    return frame.sort_values("date", kind="stable").reset_index(drop=True)


@step
def validate_raw(raw: pd.DataFrame) -> Annotated[ValidationReport, "validation"]:
    """The raw data must match what the model expects; a violation fails the run."""
    import pandera.pandas as pa

    from headrace.data import validate

    schema = pa.DataFrameSchema(
        {
            "date": pa.Column("datetime64[ns]"),
            "region": pa.Column(str, pa.Check.isin(["north", "south", "east", "west"])),
            "tenure_months": pa.Column(float, pa.Check.ge(0)),
            "monthly_spend": pa.Column(float),
            "support_calls": pa.Column(int, pa.Check.ge(0)),
            "discount": pa.Column(bool),
            "churned": pa.Column(bool),
        },
        strict=True,
    )
    report = validate(raw, schema)
    report.raise_if_failed()
    return report


@step
def split_by_quarter(
    raw: pd.DataFrame, test_quarter: int = 4
) -> tuple[Annotated[pd.DataFrame, "train"], Annotated[pd.DataFrame, "test"]]:
    """Train on the quarters before ``test_quarter``, test on that quarter."""
    quarter = raw["date"].dt.quarter
    train = raw[quarter < test_quarter].reset_index(drop=True)
    test = raw[quarter == test_quarter].reset_index(drop=True)
    log_metadata({"train_rows": len(train), "test_rows": len(test)})
    return train, test


@step
def fit(train: pd.DataFrame, C: float = 1.0) -> Annotated[LogisticRegression, "model"]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, max_iter=1000)
    model.fit(train[list(FEATURES)].astype(float), train["churned"])
    return model


def _fit(train: pd.DataFrame) -> LogisticRegression:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000).fit(
        train[list(FEATURES)].astype(float), train["churned"]
    )


def _accuracy(model: LogisticRegression, test: pd.DataFrame) -> float:
    return float((model.predict(test[list(FEATURES)].astype(float)) == test["churned"]).mean())


@step
def backtest_quarters(raw: pd.DataFrame) -> Annotated[BacktestReport, "backtest"]:
    """Train on each quarter, score on the next: how fast does the model age?"""
    from headrace.data import backtest

    return backtest(raw, on="date", window="QS", fit=_fit, score=_accuracy, mode="expanding")


@step
def drift_q4(train: pd.DataFrame, test: pd.DataFrame) -> Annotated[DriftReport, "drift"]:
    """Did Q4 customers look like the ones the model learned from?"""
    from headrace.data import drift

    columns = [*FEATURES, "region"]
    report = drift(train[columns], test[columns], categorical=["region", "discount"])
    log_metadata({"drifted_columns": list(report.drifted_columns)})
    return report


@step
def evaluate(model: LogisticRegression, test: pd.DataFrame) -> Annotated[dict[str, Any], "metrics"]:
    from sklearn.metrics import accuracy_score, roc_auc_score

    features = test[list(FEATURES)].astype(float)
    metrics = {
        "accuracy": round(float(accuracy_score(test["churned"], model.predict(features))), 4),
        "roc_auc": round(
            float(roc_auc_score(test["churned"], model.predict_proba(features)[:, 1])), 4
        ),
        "rows": len(test),
    }
    log_metadata(metrics, artifact="metrics")
    return metrics


@step
def slices_by_region(
    model: LogisticRegression, test: pd.DataFrame
) -> Annotated[SliceReport, "slices"]:
    """Q4 metrics per region, and the fairness gaps between regions."""
    from headrace.data import slice_metrics

    predictions = model.predict(test[list(FEATURES)].astype(float))
    return slice_metrics(test["churned"], predictions, by=test["region"], max_gap=None)


@pipeline
def quarterly(n: int = 4000, seed: int = 7, C: float = 1.0) -> None:
    """Train on Q1-Q3, test on Q4."""
    train, test = split_by_quarter(load_data(n=n, seed=seed))
    model = fit(train, C=C)
    evaluate(model, test)


@pipeline
def quarterly_with_data_checks(n: int = 4000, seed: int = 7, C: float = 1.0) -> None:
    """The same training, plus the data-centric checks: validation, Q4 drift, a quarterly
    backtest and metrics per region (needs `pip install 'headrace[data]'`)."""
    raw = load_data(n=n, seed=seed)
    validate_raw(raw)
    backtest_quarters(raw)
    train, test = split_by_quarter(raw)
    drift_q4(train, test)
    model = fit(train, C=C)
    evaluate(model, test)
    slices_by_region(model, test)


if __name__ == "__main__":
    run = quarterly()
    print(f"run {run.id[:12]} {run.status}: {run.steps['evaluate'].outputs['metrics'].load()}")
