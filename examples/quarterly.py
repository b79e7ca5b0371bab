"""The quarterly example: synthetic customer data with a date column, made from a seed;
train on Q1-Q3, test on Q4, with scikit-learn.

    python examples/quarterly.py            # runs the pipeline on the active home
    headrace run examples/quarterly.py:quarterly -p C=0.5
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from headrace import log_metadata, pipeline, step

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

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


@pipeline
def quarterly(n: int = 4000, seed: int = 7, C: float = 1.0) -> None:
    train, test = split_by_quarter(load_data(n=n, seed=seed))
    model = fit(train, C=C)
    evaluate(model, test)


if __name__ == "__main__":
    run = quarterly()
    print(f"run {run.id[:12]} {run.status}: {run.steps['evaluate'].outputs['metrics'].load()}")
