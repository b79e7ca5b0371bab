"""Metrics per slice of the data and the gaps between slices, computed with fairlearn."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from headrace.errors import ConfigError, MissingExtraError

from ._frames import finite, import_pandas, jsonable, require_columns, require_frame
from .errors import EmptyFrameError, LengthMismatchError, SliceTooSmallError
from .reports import SliceReport, SliceResult

METRICS = ("accuracy", "precision", "recall", "f1", "positive_rate", "count")
"""The metric names :func:`slice_metrics` knows; ``metrics`` may also hold callables."""
_MISSING = "(missing)"

MetricSpec = str | Callable[[Any, Any], float]


def slice_metrics(
    y_true: Any,
    y_pred: Any,
    by: Any,
    metrics: Sequence[MetricSpec] | None = None,
    *,
    data: Any = None,
    min_size: int = 30,
    pos_label: Any = 1,
    max_gap: float | None = 0.1,
) -> SliceReport:
    """Classification metrics per slice, and the gaps between the slices.

    ``by`` holds each row's slice: an array or Series, or several (a DataFrame, a mapping
    of names to arrays, or a list of column names) for intersectional slices. With
    ``data``, ``y_true``, ``y_pred`` and ``by`` may name its columns. ``metrics`` are names
    from :data:`METRICS` (all by default) or callables ``f(y_true, y_pred)``. Precision,
    recall and F1 are for ``pos_label`` against the rest; a rate with nothing to count
    (recall in a slice with no positives) is None. Slices with fewer than ``min_size``
    members are flagged as small; a slice with a single member is an error.

    The demographic parity difference is the largest gap in positive (selection) rate
    between slices, the equal opportunity difference the largest gap in recall (true
    positive rate); the report passes when neither exceeds ``max_gap``.
    """
    np, MetricFrame = _fairlearn()
    truth = _vector(y_true, data, "y_true")
    predicted = _vector(y_pred, data, "y_pred")
    features = _features(by, data)
    lengths = {"y_true": len(truth), "y_pred": len(predicted), "by": len(features)}
    if len(set(lengths.values())) > 1:
        raise LengthMismatchError(lengths)
    if len(truth) == 0:
        raise EmptyFrameError("y_true")
    if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 1:
        raise ConfigError(f"min_size must be a positive integer, not {min_size!r}")

    requested = list(metrics) if metrics is not None else list(METRICS)
    functions = _functions(requested, pos_label, np)
    names = list(functions)
    for needed in ("positive_rate", "recall", "count"):
        if needed not in functions:
            functions[needed] = _functions([needed], pos_label, np)[needed]

    frame = MetricFrame(
        metrics=functions, y_true=truth, y_pred=predicted, sensitive_features=features
    )
    by_group = frame.by_group
    by_group = by_group[by_group["count"].notna() & (by_group["count"] > 0)]
    feature_names = [str(name) for name in features.columns]

    slices = []
    for key, row in by_group.iterrows():
        values = key if isinstance(key, tuple) else (key,)
        label = (
            str(values[0])
            if len(values) == 1
            else ", ".join(f"{n}={v}" for n, v in zip(feature_names, values, strict=True))
        )
        size = int(row["count"])
        if size < 2:
            raise SliceTooSmallError(label, size)
        slices.append(
            SliceResult(
                name=label,
                key={n: jsonable(v) for n, v in zip(feature_names, values, strict=True)},
                count=size,
                metrics={name: finite(row[name]) for name in names},
                small=size < min_size,
            )
        )
    gaps_all = frame.difference(method="between_groups")
    overall = frame.overall
    gaps = {name: finite(gaps_all[name]) for name in names if name != "count"}
    return SliceReport(
        by=tuple(feature_names),
        metrics=tuple(names),
        slices=tuple(slices),
        overall={name: finite(overall[name]) for name in names},
        gaps=gaps,
        demographic_parity_difference=finite(gaps_all["positive_rate"]),
        equal_opportunity_difference=finite(gaps_all["recall"]),
        min_size=min_size,
        max_gap=max_gap,
        pos_label=jsonable(pos_label),
    )


def _fairlearn() -> tuple[Any, Any]:
    try:
        import numpy
        from fairlearn.metrics import MetricFrame
    except ImportError as exc:
        raise MissingExtraError("fairlearn", "data", purpose="slice metrics") from exc
    return numpy, MetricFrame


def _functions(requested: Sequence[MetricSpec], pos_label: Any, np: Any) -> dict[str, Any]:
    from fairlearn.metrics import count, selection_rate
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    # One-vs-rest for pos_label; NaN (reported as None), not 0 and a warning, when undefined.
    rate = {"labels": [pos_label], "average": "micro", "zero_division": np.nan}
    known: dict[str, Any] = {
        "accuracy": accuracy_score,
        "precision": functools.partial(precision_score, **rate),
        "recall": functools.partial(recall_score, **rate),
        "f1": functools.partial(f1_score, **rate),
        "positive_rate": functools.partial(selection_rate, pos_label=pos_label),
        "count": count,
    }
    functions: dict[str, Any] = {}
    for spec in requested:
        if callable(spec):
            functions[getattr(spec, "__name__", repr(spec))] = spec
        elif spec in known:
            functions[spec] = known[spec]
        else:
            raise ConfigError(f"unknown metric {spec!r}; known metrics: {', '.join(METRICS)}")
    return functions


def _vector(values: Any, data: Any, name: str) -> Any:
    pd = import_pandas()
    if isinstance(values, str):
        if data is None:
            raise ConfigError(f"{name}={values!r} names a column: pass the frame as data=")
        require_frame(data, "data")
        require_columns(data, [values], "data")
        values = data[values]
    if isinstance(values, pd.DataFrame):
        raise ConfigError(f"{name} must be one-dimensional, not a DataFrame")
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    return series.reset_index(drop=True)


def _features(by: Any, data: Any) -> Any:
    pd = import_pandas()
    if isinstance(by, str) or (
        isinstance(by, Sequence) and by and all(isinstance(b, str) for b in by) and data is not None
    ):
        names = [by] if isinstance(by, str) else list(by)
        if data is None:
            raise ConfigError(f"by={by!r} names a column: pass the frame as data=")
        require_frame(data, "data")
        require_columns(data, names, "data")
        frame = data[names]
    elif isinstance(by, pd.DataFrame):
        frame = by
    elif isinstance(by, Mapping):
        frame = pd.DataFrame({str(k): pd.Series(v).reset_index(drop=True) for k, v in by.items()})
    elif isinstance(by, pd.Series):
        frame = by.to_frame(name=str(by.name) if by.name is not None else "slice")
    else:
        frame = pd.DataFrame({"slice": pd.Series(by)})
    frame = frame.reset_index(drop=True)
    columns = {}
    for name in frame.columns:
        column = frame[name]
        if column.isna().any():
            column = column.astype(object).where(column.notna(), _MISSING)
        columns[str(name)] = column
    return pd.DataFrame(columns)
