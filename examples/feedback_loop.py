"""The production feedback loop: train and register a churn model, promote it through
gates, serve it, watch the traffic for drift, retrain and promote again.

    python examples/feedback_loop.py train            # a version of model "churn"
    python examples/feedback_loop.py promote          # latest -> production, through gates
    headrace serve churn@production --port 8080       # in another terminal
    python examples/feedback_loop.py monitor          # drift check on the logged traffic

The pipelines are importable, so ``headrace run examples/feedback_loop.py:training`` and
``headrace schedule add examples/feedback_loop.py:monitoring --cron "*/5 * * * *"``
work too.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

from headrace import Model, log_metadata, pipeline, step
from headrace.serving.monitoring import (
    check_drift,
    recent_traffic,
    retrain_if_drifted,
    training_data,
)

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

FEATURES = ("tenure_months", "monthly_spend", "support_calls")
GATES = ("accuracy >= 0.6", "p99_ms <= 20")


def customers(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Synthetic customers; ``shift`` moves spending up (and tenure down) as a market
    change would. The churn label depends on the features the same way throughout."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure_months": (rng.gamma(2.0, 12.0, n) * (1 - 0.3 * min(shift, 2.0) / 2)).round(1),
            "monthly_spend": rng.normal(60.0 + 25.0 * shift, 18.0, n).round(2),
            "support_calls": rng.poisson(1.5, n),
        }
    )
    logit = (
        -1.0
        - 0.05 * frame["tenure_months"]
        + 0.03 * (frame["monthly_spend"] - 60)
        + 0.6 * frame["support_calls"]
    )
    frame["churned"] = rng.random(n) < 1 / (1 + np.exp(-logit))
    return frame


@step
def load_customers(
    n: int = 1500, seed: int = 7, shift: float = 0.0
) -> tuple[Annotated[pd.DataFrame, "train"], Annotated[pd.DataFrame, "test"]]:
    frame = customers(n, seed, shift)
    cut = int(len(frame) * 0.75)
    return frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True)


@step
def fit(train: pd.DataFrame, C: float = 1.0) -> Annotated[LogisticRegression, "model"]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, max_iter=1000)
    model.fit(train[list(FEATURES)], train["churned"])
    return model


@step
def evaluate(model: LogisticRegression, test: pd.DataFrame) -> Annotated[dict[str, Any], "metrics"]:
    from sklearn.metrics import accuracy_score

    from headrace.models import measure_latency

    features = test[list(FEATURES)]
    metrics = {
        "accuracy": round(float(accuracy_score(test["churned"], model.predict(features))), 4)
    }
    # Recorded on the model version this run registers, for the "p99_ms" gate.
    measure_latency(model, features, batch_sizes=(1, 32), repeats=100)
    log_metadata(metrics, artifact="metrics")
    return metrics


@pipeline(model=Model("churn", description="Which customers are about to leave"))
def training(n: int = 1500, seed: int = 7, shift: float = 0.0, C: float = 1.0) -> None:
    train, test = load_customers(n=n, seed=seed, shift=shift)
    evaluate(fit(train, C=C), test)


@pipeline
def monitoring(
    model: str = "churn",
    alias: str = "production",
    logs: int = 20,
    pipeline: str = "examples/feedback_loop.py:training",
    gates: list[str] = list(GATES),  # noqa: B006 - a JSON default, never mutated
    retrain: dict[str, Any] | None = None,
) -> None:
    """Drift check of recent traffic against the serving version's training data; on
    drift, run ``pipeline`` with the parameters ``retrain`` and promote the version it
    registers if its gates pass."""
    report = check_drift(
        training_data(model=model, alias=alias),
        recent_traffic(model=model, logs=logs),
        model=model,
        alias=alias,
    )
    retrain_if_drifted(
        report, model=model, alias=alias, pipeline=pipeline, parameters=retrain, gates=gates
    )


def main(argv: list[str]) -> None:
    from headrace import Client

    command = argv[0] if argv else "train"
    if command == "train":
        run = training()
        version = Client().model("churn").version("latest")
        print(f"run {run.id[:12]} {run.status}: churn v{version.version} {version.metrics}")
    elif command == "promote":
        promotion = Client().model("churn").promote("latest", to="production", require=set(GATES))
        print(f"churn v{promotion.version} is now production")
    elif command == "monitor":
        run = monitoring()
        print(run.steps["retrain_if_drifted"].outputs["retraining"].load())
    else:
        raise SystemExit(f"unknown command {command!r}: train, promote or monitor")


if __name__ == "__main__":
    main(sys.argv[1:])
