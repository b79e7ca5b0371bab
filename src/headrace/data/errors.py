"""The exceptions the data toolkit raises.

Each names the column, window or slice at fault, and inherits the builtin that fits, so
``except KeyError`` or ``except ValueError`` keep working::

    HeadraceError
    └── DataError
        ├── ColumnNotFoundError(KeyError)       a column is not in the frame
        ├── EmptyFrameError(ValueError)         a frame (or one of its columns) has no rows
        ├── LengthMismatchError(ValueError)     arrays that must line up have different lengths
        ├── NotAFrameError(TypeError)           a pandas DataFrame was expected
        ├── ColumnTypeError(TypeError)          a column has the wrong kind of values
        │   └── NotDatetimeError                the time column is not datetime64
        ├── EmptyWindowError(ValueError)        a time window or split side holds no rows
        ├── SliceTooSmallError(ValueError)      a slice has a single member
        ├── ValidationFailedError               ``on_fail="raise"`` and the data broke its schema
        └── DriftDetectedError                  ``on_drift="raise"`` and the data drifted

:class:`DataWarning` is the warning issued instead when a step is told to warn.
"""

from __future__ import annotations

from typing import Any

from headrace.errors import HeadraceError

__all__ = [
    "ColumnNotFoundError",
    "ColumnTypeError",
    "DataError",
    "DataWarning",
    "DriftDetectedError",
    "EmptyFrameError",
    "EmptyWindowError",
    "LengthMismatchError",
    "NotAFrameError",
    "NotDatetimeError",
    "SliceTooSmallError",
    "ValidationFailedError",
]


class DataError(HeadraceError):
    """Root of the errors raised by :mod:`headrace.data`."""


class ColumnNotFoundError(DataError, KeyError):
    """A column named by the caller is not in the frame."""

    def __init__(self, column: str, *, frame: str = "frame", available: Any = ()) -> None:
        self.column = column
        self.frame = frame
        names = [str(name) for name in available]
        shown = ", ".join(repr(name) for name in names[:10])
        if len(names) > 10:
            shown += f", ... ({len(names)} columns)"
        hint = f"; it has {shown}" if names else ""
        super().__init__(f"column {column!r} is not in the {frame}{hint}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class EmptyFrameError(DataError, ValueError):
    """A frame, or a column once missing values are dropped, has no rows."""

    def __init__(self, frame: str, *, column: str | None = None) -> None:
        self.frame = frame
        self.column = column
        what = f"column {column!r} of the {frame}" if column is not None else f"the {frame}"
        super().__init__(f"{what} has no rows" + (" with a value" if column is not None else ""))


class LengthMismatchError(DataError, ValueError):
    """Arrays that must line up row for row have different lengths."""

    def __init__(self, lengths: dict[str, int]) -> None:
        self.lengths = dict(lengths)
        shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        super().__init__(f"lengths differ: {shown}")


class NotAFrameError(DataError, TypeError):
    """A pandas DataFrame was expected."""

    def __init__(self, name: str, value: object) -> None:
        self.name = name
        super().__init__(f"{name} must be a pandas DataFrame, not {type(value).__name__}")


class ColumnTypeError(DataError, TypeError):
    """A column holds values of the wrong kind for the operation."""

    def __init__(self, column: str, message: str) -> None:
        self.column = column
        super().__init__(f"column {column!r} {message}")


class NotDatetimeError(ColumnTypeError):
    """The time column of a split or backtest is not a datetime column."""

    def __init__(self, column: str, dtype: object) -> None:
        super().__init__(
            column,
            f"has dtype {dtype}, not datetime64; convert it first, "
            f"e.g. df[{column!r}] = pd.to_datetime(df[{column!r}])",
        )


class EmptyWindowError(DataError, ValueError):
    """A time window, or one side of a split, contains no rows."""

    def __init__(self, window: str, message: str = "has no rows") -> None:
        self.window = window
        super().__init__(f"{window} {message}")


class SliceTooSmallError(DataError, ValueError):
    """A slice has a single member, so no rate or gap can be estimated from it."""

    def __init__(self, slice_name: str, size: int) -> None:
        self.slice = slice_name
        self.size = size
        super().__init__(
            f"slice {slice_name!r} has {size} member{'s' if size != 1 else ''}; "
            "merge it into another slice or drop it before computing slice metrics"
        )


class ValidationFailedError(DataError):
    """Data failed validation and the caller asked for that to be an error."""

    def __init__(self, report: Any) -> None:
        self.report = report
        failed = [
            f"{check.column}: {check.check} ({check.failures})"
            if check.column is not None
            else f"{check.check} ({check.failures})"
            for check in report.failed_checks
        ]
        shown = "; ".join(failed[:5]) + ("; ..." if len(failed) > 5 else "")
        super().__init__(
            f"validation failed: {len(failed)} check(s) failed on "
            f"{report.n_failing_rows} row(s): {shown}"
        )


class DriftDetectedError(DataError):
    """Data drifted and the caller asked for that to be an error."""

    def __init__(self, report: Any) -> None:
        self.report = report
        columns = ", ".join(repr(name) for name in report.drifted_columns)
        super().__init__(
            f"drift detected in {len(report.drifted_columns)} of {len(report.columns)} "
            f"column(s): {columns}"
        )


class DataWarning(UserWarning):
    """Issued by the ready-made steps when told to warn rather than fail."""
