"""The public names of headrace.data, locked."""

from __future__ import annotations

import inspect

import headrace.data as hd
from headrace.errors import HeadraceError

PUBLIC = {
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
}


def test_exported_names() -> None:
    assert set(hd.__all__) == PUBLIC
    for name in hd.__all__:
        assert getattr(hd, name) is not None


def test_errors_derive_from_headrace_error_and_a_builtin() -> None:
    expected = {
        hd.ColumnNotFoundError: KeyError,
        hd.EmptyFrameError: ValueError,
        hd.LengthMismatchError: ValueError,
        hd.NotAFrameError: TypeError,
        hd.NotDatetimeError: TypeError,
        hd.ColumnTypeError: TypeError,
        hd.EmptyWindowError: ValueError,
        hd.SliceTooSmallError: ValueError,
    }
    for error, builtin in expected.items():
        assert issubclass(error, hd.DataError) and issubclass(error, HeadraceError)
        assert issubclass(error, builtin)
    assert (
        str(hd.ColumnNotFoundError("x", frame="reference")) == "column 'x' is not in the reference"
    )


def test_signatures() -> None:
    def params(function: object) -> list[str]:
        return list(inspect.signature(function).parameters)  # type: ignore[arg-type]

    assert params(hd.time_split) == ["df", "on", "train_until", "test_from"]
    assert params(hd.backtest)[:3] == ["df", "on", "window"]
    assert {"fit", "score", "mode"} <= set(params(hd.backtest))
    assert params(hd.validate)[:2] == ["df", "schema"]
    assert params(hd.drift)[:4] == ["reference", "current", "columns", "threshold"]
    assert params(hd.slice_metrics)[:4] == ["y_true", "y_pred", "by", "metrics"]
    assert params(hd.diff)[:2] == ["a", "b"]
