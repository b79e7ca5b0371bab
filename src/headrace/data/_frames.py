"""Checks on the frames handed to the toolkit, and JSON-safe conversion of their values."""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable
from typing import Any

from headrace.errors import MissingExtraError

from .errors import (
    ColumnNotFoundError,
    EmptyFrameError,
    NotAFrameError,
    NotDatetimeError,
)


def import_pandas() -> Any:
    """Import pandas, or say which extra to install."""
    try:
        import pandas
    except ImportError as exc:  # pragma: no cover - pandas is in every test environment
        raise MissingExtraError("pandas", "data") from exc
    return pandas


def require_frame(df: Any, name: str, *, allow_empty: bool = False) -> None:
    """Raise unless ``df`` is a DataFrame (with at least one row unless ``allow_empty``)."""
    pd = import_pandas()
    if not isinstance(df, pd.DataFrame):
        raise NotAFrameError(name, df)
    if not allow_empty and len(df) == 0:
        raise EmptyFrameError(name)


def require_columns(df: Any, columns: Iterable[Any], name: str) -> None:
    """Raise :class:`ColumnNotFoundError` for the first of ``columns`` not in ``df``."""
    present = set(df.columns)
    for column in columns:
        if column not in present:
            raise ColumnNotFoundError(str(column), frame=name, available=list(df.columns))


def require_datetime(df: Any, column: str) -> None:
    """Raise :class:`NotDatetimeError` unless ``df[column]`` is datetime64 (naive or tz-aware)."""
    pd = import_pandas()
    dtype = df[column].dtype
    if not pd.api.types.is_datetime64_any_dtype(dtype):
        raise NotDatetimeError(column, dtype)


def jsonable(value: Any) -> Any:
    """Turn a scalar from a frame into a JSON value; NaN, NaT and infinities become None."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if type(value).__module__ == "numpy":
        if type(value).__name__ in ("datetime64", "timedelta64"):
            pd = import_pandas()
            stamp = (
                pd.Timestamp(value) if type(value).__name__ == "datetime64" else pd.Timedelta(value)
            )
            return None if stamp is pd.NaT else str(stamp.isoformat())
        return jsonable(value.item())
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        try:
            if value != value:  # NaT
                return None
        except TypeError:  # pragma: no cover - exotic datetime subclasses
            pass
        return value.isoformat()
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return str(isoformat())
    pd = import_pandas()
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    return str(value)


def finite(value: Any) -> float | None:
    """A float, or None when the value is missing, NaN or infinite."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
