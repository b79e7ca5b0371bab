"""The pipeline the kill harness runs and kills, and the child process that runs it.

Five steps pass pandas DataFrames and numpy arrays of a few MB each (``rows`` sets the
size): ``generate`` -> ``featurize`` and, in parallel, ``profile`` -> ``fit`` ->
``evaluate``. Every value depends only on ``seed`` and ``rows``, so :func:`expected`
computes what each output must hold without headrace, and two runs with the same
parameters store bit-identical bytes.

The child (``python -c "import kill_flow; kill_flow.child()" HOME SEED ROWS POINT``)
imports everything, prints ``ready``, installs the kill point (see ``kill_points``),
runs the pipeline and prints ``done RUN_ID COUNTS``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any

import numpy as np
import pandas as pd

from headrace import pipeline, step

GROUPS = ("north", "south", "east", "west", "centre", "coast", "hills", "plains")
N_FEATURES = 6
FIT_ROUNDS = 1500


@step
def generate(seed: int, rows: int) -> Annotated[pd.DataFrame, "frame"]:
    """A synthetic table: an id, a group, six features and a noisy linear target."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, N_FEATURES))
    coef = np.linspace(-2.0, 3.0, N_FEATURES)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(N_FEATURES)])
    frame.insert(0, "id", np.arange(rows, dtype=np.int64) + seed * 10_000_000)
    frame.insert(1, "group", pd.Categorical(rng.choice(GROUPS, size=rows), categories=GROUPS))
    frame["y"] = x @ coef + 0.5 * np.sin(x[:, 0] * x[:, 1]) + rng.normal(scale=0.3, size=rows)
    return frame


@step
def featurize(
    frame: pd.DataFrame,
) -> tuple[Annotated[np.ndarray, "features"], Annotated[np.ndarray, "target"]]:
    """Standardized features, their squares, pairwise products of neighbours and each
    feature's percentile rank within its group."""
    columns = [f"x{i}" for i in range(N_FEATURES)]
    x = frame[columns].to_numpy()
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    pairs = x[:, :-1] * x[:, 1:]
    ranks = frame.groupby("group", observed=True)[columns].rank(pct=True).to_numpy()
    features = np.hstack([np.ones((len(x), 1)), x, x**2, pairs, ranks])
    return features, frame["y"].to_numpy().copy()


@step
def profile(frame: pd.DataFrame) -> Annotated[pd.DataFrame, "profile"]:
    """Per-group statistics of every column (the parallel branch)."""
    numeric = frame.drop(columns=["id"])
    grouped = numeric.groupby("group", observed=True)
    stats = grouped.agg(["mean", "std", "min", "max", "median", "skew"])
    stats.columns = [f"{col}_{stat}" for col, stat in stats.columns]
    tails = grouped.quantile([0.01, 0.1, 0.9, 0.99]).unstack()
    tails.columns = [f"{col}_q{q:g}" for col, q in tails.columns]
    stats = stats.join(tails)
    counts = frame.groupby("group", observed=True).size().rename("rows")
    return stats.join(counts).reset_index().astype({"group": str})


@step
def fit(
    features: np.ndarray, target: np.ndarray
) -> tuple[Annotated[np.ndarray, "weights"], Annotated[np.ndarray, "predictions"]]:
    """Least squares, then rounds of full-batch gradient descent from a cold start."""
    exact, *_ = np.linalg.lstsq(features, target, rcond=None)
    gram = features.T @ features / len(features)
    rate = 1.0 / float(np.linalg.eigvalsh(gram)[-1])  # the largest stable step
    weights = np.zeros(features.shape[1])
    for _ in range(FIT_ROUNDS):
        weights -= rate * (features.T @ (features @ weights - target)) / len(features)
    return np.vstack([exact, weights]), features @ exact


@step
def evaluate(
    frame: pd.DataFrame, predictions: np.ndarray, profile: pd.DataFrame
) -> tuple[Annotated[pd.DataFrame, "scores"], Annotated[dict[str, Any], "summary"]]:
    """Error per group, and a JSON summary."""
    errors = pd.DataFrame(
        {"group": frame["group"].astype(str), "error": frame["y"].to_numpy() - predictions}
    )
    scores = (
        errors.groupby("group")["error"]
        .agg(rmse=lambda e: float(np.sqrt(np.mean(e**2))), mae=lambda e: float(np.mean(abs(e))))
        .reset_index()
        .merge(profile[["group", "rows"]], on="group")
    )
    summary = {
        "rows": len(frame),
        "rmse": float(np.sqrt(np.mean(errors["error"] ** 2))),
        "groups": len(scores),
    }
    return scores, summary


@pipeline
def killable(seed: int = 0, rows: int = 40_000) -> None:
    frame = generate(seed=seed, rows=rows)
    features, target = featurize(frame)
    stats = profile(frame)
    _weights, predictions = fit(features, target)
    evaluate(frame, predictions, stats)


#: Output name -> step name, for the checks.
PRODUCERS = {
    "frame": "generate",
    "features": "featurize",
    "target": "featurize",
    "profile": "profile",
    "weights": "fit",
    "predictions": "fit",
    "scores": "evaluate",
    "summary": "evaluate",
}


def expected(seed: int, rows: int) -> dict[str, Any]:
    """Every output of ``killable(seed, rows)``, computed by calling the plain functions."""
    frame = generate(seed=seed, rows=rows)
    features, target = featurize(frame)
    stats = profile(frame)
    weights, predictions = fit(features, target)
    scores, summary = evaluate(frame, predictions, stats)
    return {
        "frame": frame,
        "features": features,
        "target": target,
        "profile": stats,
        "weights": weights,
        "predictions": predictions,
        "scores": scores,
        "summary": summary,
    }


def same_value(a: Any, b: Any) -> bool:
    """Equal values and types (DataFrames with equal dtypes, arrays with equal shapes)."""
    if isinstance(a, pd.DataFrame):
        return isinstance(b, pd.DataFrame) and a.equals(b) and list(a.dtypes) == list(b.dtypes)
    if isinstance(a, np.ndarray):
        return (
            isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and bool(np.array_equal(a, b))
        )
    return bool(a == b)


def child(argv: list[str] | None = None) -> None:
    """Run ``killable`` once in this process (the harness kills it)."""
    import kill_points
    import pyarrow  # noqa: F401  (imported before "ready": the run's time is the run)

    home, seed, rows, point = (argv if argv is not None else sys.argv[1:])[:4]
    os.environ["HEADRACE_HOME"] = home
    counter = kill_points.install(point)
    print("ready", flush=True)
    run = killable(seed=int(seed), rows=int(rows))
    print("done", run.id, json.dumps(counter.counts), flush=True)
