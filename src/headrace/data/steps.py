"""Ready-made steps over :mod:`headrace.data`, for use in pipelines.

Each is one call to the function of the same name; its report is the step's output
artifact, stored with its verdict and headline numbers as metadata::

    from headrace import pipeline
    from headrace.data.steps import drift_step, time_split_step, validate_step

    @pipeline
    def monitor():
        data = load()
        validate_step(data, reference=load_reference(), on_fail="raise")
        train, test = time_split_step(data, on="date", test_from="last quarter")
        drift_step(train, test)

Parameters are JSON values, so in a pipeline a schema is a serialized pandera schema (or
a reference frame from another step) and the backtest's model functions are named as
``"module:function"``.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from headrace import get_step_context, log_metadata, step
from headrace.errors import ConfigError, HeadraceError

from ._diff import diff
from ._drift import drift
from ._slices import slice_metrics
from ._time import backtest, time_split
from ._validation import validate
from .errors import DataError, DataWarning, DriftDetectedError, ValidationFailedError

if TYPE_CHECKING:
    import pandas as pd

    from .reports import BacktestReport, DiffReport, DriftReport, SliceReport, ValidationReport

__all__ = [
    "backtest_step",
    "diff_step",
    "drift_step",
    "slice_metrics_step",
    "time_split_step",
    "validate_step",
]

OnProblem = Literal["raise", "warn", "ignore"]


def _react(passed: bool, on_problem: str, error: Callable[[], Exception], message: str) -> None:
    if on_problem not in ("raise", "warn", "ignore"):
        raise ConfigError(f"expected 'raise', 'warn' or 'ignore', not {on_problem!r}")
    if passed or on_problem == "ignore":
        return
    if on_problem == "raise":
        raise error()
    # Inside a run, a warning is recorded on the step run (where `runs show` prints it)
    # and logged; a Python warning in a worker thread would go unseen.
    try:
        ctx = get_step_context()
    except HeadraceError:
        warnings.warn(message, DataWarning, stacklevel=3)
        return
    logging.getLogger("headrace").warning("step '%s': %s", ctx.step_name, message)
    log_metadata({"warnings": [*ctx.step_metadata.get("warnings", []), message]})


@step
def validate_step(
    df: pd.DataFrame,
    schema: Any = None,
    reference: pd.DataFrame | None = None,
    on_fail: OnProblem = "raise",
) -> Annotated[ValidationReport, "validation_report"]:
    """Validate ``df`` against ``schema`` (or one inferred from ``reference``).

    ``on_fail="raise"`` fails the step, and so the run, when a check fails; ``"warn"``
    records the warning on the step run (metadata ``warnings``, and the ``headrace``
    logger) and returns the report — outside a run it issues a
    :class:`~headrace.data.DataWarning`.
    """
    if schema is None and reference is None:
        raise ConfigError("validate_step needs a schema or a reference frame")
    report = validate(df, schema if schema is not None else reference)
    _react(
        report.passed,
        on_fail,
        lambda: ValidationFailedError(report),
        f"validation failed: {len(report.failed_checks)} check(s), {report.n_failing_rows} row(s)",
    )
    return report


@step
def drift_step(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: list[str] | None = None,
    threshold: float = 0.05,
    method: Literal["auto", "test", "psi"] = "auto",
    on_drift: OnProblem = "warn",
) -> Annotated[DriftReport, "drift_report"]:
    """Drift of ``current`` against ``reference``; ``on_drift`` says what data drift does."""
    report = drift(reference, current, columns, threshold, method=method)
    _react(
        report.passed,
        on_drift,
        lambda: DriftDetectedError(report),
        f"data drift in {len(report.drifted_columns)} column(s): "
        + ", ".join(report.drifted_columns),
    )
    return report


@step
def slice_metrics_step(
    df: pd.DataFrame,
    by: str | list[str],
    y_true: str = "y_true",
    y_pred: str = "y_pred",
    metrics: list[str] | None = None,
    min_size: int = 30,
    max_gap: float | None = 0.1,
    on_gap: OnProblem = "warn",
) -> Annotated[SliceReport, "slice_report"]:
    """Metrics per slice of ``df``, whose columns ``y_true``, ``y_pred`` and ``by`` are named."""
    report = slice_metrics(y_true, y_pred, by, metrics, data=df, min_size=min_size, max_gap=max_gap)
    _react(
        report.passed,
        on_gap,
        lambda: DataError(
            f"fairness gap above {max_gap}: demographic parity difference "
            f"{report.demographic_parity_difference}, equal opportunity difference "
            f"{report.equal_opportunity_difference}"
        ),
        f"fairness gap above {max_gap}",
    )
    return report


@step
def time_split_step(
    df: pd.DataFrame,
    on: str = "date",
    train_until: str | float | None = None,
    test_from: str | float | None = None,
) -> tuple[Annotated[pd.DataFrame, "train"], Annotated[pd.DataFrame, "test"]]:
    """Split ``df`` in time into ``train`` and ``test`` (see :func:`~headrace.data.time_split`)."""
    train, test = time_split(df, on, train_until=train_until, test_from=test_from)
    return train, test


@step
def backtest_step(
    df: pd.DataFrame,
    fit: str,
    score: str,
    on: str = "date",
    window: str | list[Any] = "QS",
    mode: Literal["rolling", "expanding"] = "rolling",
    train_windows: int = 1,
    threshold: float | None = None,
    higher_is_better: bool = True,
) -> Annotated[BacktestReport, "backtest_report"]:
    """Backtest over time windows; ``fit`` and ``score`` name functions as ``"module:function"``."""
    return backtest(
        df,
        on,
        window,
        fit=_function(fit, "fit"),
        score=_function(score, "score"),
        mode=mode,
        train_windows=train_windows,
        threshold=threshold,
        higher_is_better=higher_is_better,
    )


@step
def diff_step(
    a: pd.DataFrame, b: pd.DataFrame, threshold: float = 0.05
) -> Annotated[DiffReport, "diff_report"]:
    """What changed between two versions of a dataset (see :func:`~headrace.data.diff`)."""
    return diff(a, b, threshold=threshold)


def _function(spec: Any, role: str) -> Callable[..., Any]:
    if callable(spec):
        return spec  # type: ignore[no-any-return]
    if not isinstance(spec, str) or ":" not in spec:
        raise ConfigError(f"{role} must name a function as 'module:function', not {spec!r}")
    module_name, _, qualname = spec.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{role}={spec!r} cannot be imported: {exc}") from exc
    if not callable(target):
        raise ConfigError(f"{role}={spec!r} is not callable")
    return target  # type: ignore[no-any-return]
