"""The data-centric toolkit: splits in time, backtests, validation, drift, slices and diffs.

Every function takes plain pandas objects and returns a report (a frozen dataclass with
``passed``, ``summary()``, ``to_dict()``, ``to_html()`` and ``plots()``) that a step can
return as an artifact. ``headrace.data.steps`` wraps them as ready-made steps.

Importing this package is cheap: pandas, scipy, pandera, fairlearn and matplotlib are
imported by the functions that use them (install them with ``headrace[data]``).
"""

from __future__ import annotations

from ._diff import diff
from ._drift import drift
from ._slices import METRICS, slice_metrics
from ._time import Split, backtest, time_split
from ._validation import infer_schema, validate
from .errors import (
    ColumnNotFoundError,
    ColumnTypeError,
    DataError,
    DataWarning,
    DriftDetectedError,
    EmptyFrameError,
    EmptyWindowError,
    LengthMismatchError,
    NotAFrameError,
    NotDatetimeError,
    SliceTooSmallError,
    ValidationFailedError,
)
from .reports import (
    BacktestFold,
    BacktestReport,
    CheckResult,
    ColumnDiff,
    ColumnDrift,
    DiffReport,
    DriftReport,
    SliceReport,
    SliceResult,
    ValidationReport,
)

__all__ = [
    "METRICS",
    "BacktestFold",
    "BacktestReport",
    "CheckResult",
    "ColumnDiff",
    "ColumnDrift",
    "ColumnNotFoundError",
    "ColumnTypeError",
    "DataError",
    "DataWarning",
    "DiffReport",
    "DriftDetectedError",
    "DriftReport",
    "EmptyFrameError",
    "EmptyWindowError",
    "LengthMismatchError",
    "NotAFrameError",
    "NotDatetimeError",
    "SliceReport",
    "SliceResult",
    "SliceTooSmallError",
    "Split",
    "ValidationFailedError",
    "ValidationReport",
    "backtest",
    "diff",
    "drift",
    "infer_schema",
    "slice_metrics",
    "time_split",
    "validate",
]

MATERIALIZERS = {
    f"{report.__module__}.{report.__qualname__}": f"headrace.data._materializers:{report.__name__}Materializer"
    for report in (ValidationReport, DriftReport, SliceReport, BacktestReport, DiffReport)
}
"""Report type name -> materializer, as also declared in the ``headrace.materializers`` entry points."""


def _register_materializers() -> None:
    try:
        from headrace.materializers import register
    except ImportError:  # the registry is optional for using the functions themselves
        return
    for type_name, materializer in MATERIALIZERS.items():
        register(type_name, materializer)


_register_materializers()
