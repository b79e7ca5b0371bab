"""``pandas``: DataFrames and Series as Parquet (pyarrow engine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from headrace.materializers import _json_codec as codec
from headrace.materializers._imports import require

FILE = "data.parquet"
SERIES_FILE = "series.json"  # present only for a Series: its name
CATEGORIES_FILE = "categoricals.json"  # only for frames with categorical columns
_SERIES_COLUMN = "values"
MAX_SUMMARY_COLUMNS = 50
MAX_SCHEMA_COLUMNS = 1000


def _pd() -> Any:
    require("pyarrow", package="pyarrow", extra="ml", purpose="Parquet files")
    return require("pandas", package="pandas", extra="ml", purpose="pandas DataFrames")


class PandasMaterializer:
    """Writes ``data.parquet``; a Series is stored as a one-column frame plus its name in
    ``series.json``. The index, ``attrs`` and dtypes (datetimes with time zones,
    categoricals, nullable integers and booleans, strings) come back as they were.
    Columns of mixed Python objects that Arrow cannot type are refused when saving."""

    name: ClassVar[str] = "pandas"

    def unsupported_reason(self, obj: Any) -> str | None:
        if _is_series(obj):
            try:
                _encode_name(obj.name)
            except TypeError as exc:
                return f"the value is a Series whose {exc}"
        return None

    def save(self, obj: Any, folder: Path) -> dict[str, Any]:
        pd = _pd()
        if isinstance(obj, pd.Series):
            name = _encode_name(obj.name)
            frame = obj.to_frame(name=_SERIES_COLUMN)
            frame.to_parquet(folder / FILE, engine="pyarrow")
            _save_categories(pd, frame, folder)
            (folder / SERIES_FILE).write_text(codec.dumps({"name": name}), encoding="utf-8")
            return _describe_series(pd, obj)
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame or Series, got {type(obj).__name__}")
        obj.to_parquet(folder / FILE, engine="pyarrow")
        _save_categories(pd, obj, folder)
        return _describe_frame(pd, obj)

    def load(self, folder: Path, type_name: str) -> Any:
        pd = _pd()
        frame = pd.read_parquet(folder / FILE, engine="pyarrow")
        if (folder / CATEGORIES_FILE).exists():
            frame = _restore_categories(pd, frame, folder)
        series_file = folder / SERIES_FILE
        if not series_file.exists():
            return frame
        stored = codec.loads(series_file.read_text(encoding="utf-8"))
        if not isinstance(stored, dict) or "name" not in stored:
            raise ValueError(f"{series_file} does not hold a Series name")
        series = frame[_SERIES_COLUMN]
        series.name = _decode_name(pd, stored["name"])
        return series


def _save_categories(pd: Any, frame: Any, folder: Path) -> None:
    """Parquet keeps a categorical column's categories only when they are strings and
    the frame has rows; an int, float or datetime categorical reads back as plain values.
    So every categorical column ``i`` also gets ``categories-i.parquet`` (its categories
    as a plain column) and an entry in ``categoricals.json`` (position, ordered)."""
    columns = []
    for position, dtype in enumerate(frame.dtypes):
        if isinstance(dtype, pd.CategoricalDtype):
            side = pd.DataFrame({"categories": dtype.categories})
            side.to_parquet(folder / f"categories-{position}.parquet", engine="pyarrow")
            columns.append([position, bool(dtype.ordered)])
    if columns:
        (folder / CATEGORIES_FILE).write_text(codec.dumps({"columns": columns}), encoding="utf-8")


def _restore_categories(pd: Any, frame: Any, folder: Path) -> Any:
    stored = codec.loads((folder / CATEGORIES_FILE).read_text(encoding="utf-8"))
    frame = frame.copy()
    for position, ordered in stored["columns"]:
        side = pd.read_parquet(folder / f"categories-{int(position)}.parquet", engine="pyarrow")
        categories = pd.Index(side["categories"]).rename(None)
        dtype = pd.CategoricalDtype(categories, ordered=bool(ordered))
        frame.isetitem(int(position), frame.iloc[:, int(position)].astype(dtype))
    return frame


def _is_series(obj: Any) -> bool:
    return any(
        c.__module__.startswith("pandas") and c.__name__ == "Series" for c in type(obj).__mro__
    )


def _encode_name(name: Any) -> Any:
    """Series names are labels: JSON values, tuples, or timestamps (``df.loc[ts]``)."""
    try:
        return codec.Encoder().encode(name)
    except codec.NotJSONError:
        pass
    if type(name).__name__ in {"Timestamp", "Timedelta"} and type(name).__module__.startswith(
        "pandas"
    ):
        return {"$" + type(name).__name__.lower(): str(name)}
    raise TypeError(f"name is a {type(name).__name__}, which cannot be stored")


def _decode_name(pd: Any, data: Any) -> Any:
    if isinstance(data, dict) and len(data) == 1:
        tag, body = next(iter(data.items()))
        if tag == "$timestamp":
            return pd.Timestamp(body)
        if tag == "$timedelta":
            return pd.Timedelta(body)
    return codec.decode(data)


def _names(index: Any) -> list[str | None]:
    return [None if n is None else str(n) for n in index.names]


def _summary(pd: Any, series: Any) -> dict[str, Any] | None:
    dtype = series.dtype
    if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_complex_dtype(dtype):
        return None
    import numpy as np

    try:
        # Statistics are a description, not the data: an overflowing mean must neither
        # warn nor stop the value from being stored.
        with np.errstate(all="ignore"):
            values = series.astype("float64") if pd.api.types.is_bool_dtype(dtype) else series
            return {
                "min": values.min(),
                "max": values.max(),
                "mean": values.mean(),
                "nulls": int(series.isna().sum()),
            }
    except Exception:
        return None


def _describe_frame(pd: Any, frame: Any) -> dict[str, Any]:
    columns = list(frame.columns)
    schema = {
        str(c): str(t) for c, t in zip(columns[:MAX_SCHEMA_COLUMNS], frame.dtypes, strict=False)
    }
    summary: dict[str, Any] = {}
    for position, column in enumerate(columns):
        if len(summary) >= MAX_SUMMARY_COLUMNS:
            break
        stats = _summary(pd, frame.iloc[:, position])
        if stats is not None:
            summary[str(column)] = stats
    metadata: dict[str, Any] = {
        "kind": "DataFrame",
        "rows": len(frame),
        "columns": len(columns),
        "schema": schema,
        "summary": summary,
        "index": {"names": _names(frame.index), "dtype": str(frame.index.dtype)},
        "memory_bytes": int(frame.memory_usage(deep=True, index=True).sum()),
    }
    if len(columns) > MAX_SCHEMA_COLUMNS:
        metadata["schema_truncated"] = True
    return metadata


def _describe_series(pd: Any, series: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "kind": "Series",
        "rows": len(series),
        "name": None if series.name is None else str(series.name),
        "dtype": str(series.dtype),
        "index": {"names": _names(series.index), "dtype": str(series.index.dtype)},
        "memory_bytes": int(series.memory_usage(deep=True, index=True)),
    }
    stats = _summary(pd, series)
    if stats is not None:
        metadata["summary"] = stats
    return metadata
