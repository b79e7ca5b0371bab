"""What changed between two versions of a dataset: schema, rows, statistics and drift."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._frames import finite, import_pandas, jsonable, require_frame
from .reports import JSON, ColumnDiff, DiffReport


def diff(
    a: Any,
    b: Any,
    *,
    names: tuple[str, str] = ("a", "b"),
    drift: bool = True,
    threshold: float = 0.05,
    method: str = "auto",
    categorical: Sequence[str] = (),
) -> DiffReport:
    """Compare version ``a`` of a dataset with version ``b``.

    Reports the columns added and removed, dtype changes, the row counts, per-column
    statistics on both sides, and (with ``drift``) a :func:`~headrace.data.drift` report
    over the columns both versions share with values of the same kind. Either version
    may be empty; drift is then skipped. ``threshold`` and ``method`` are those of
    :func:`~headrace.data.drift` (with ``"auto"``, columns of more than 1,000 reference
    rows are judged by distance, not by the p-value threshold).
    """
    pd = import_pandas()
    require_frame(a, names[0], allow_empty=True)
    require_frame(b, names[1], allow_empty=True)
    in_a, in_b = list(a.columns), list(b.columns)
    set_a, set_b = set(in_a), set(in_b)
    added = [c for c in in_b if c not in set_a]
    removed = [c for c in in_a if c not in set_b]

    columns = []
    comparable = []
    for column in [*in_a, *added]:
        left = a[column] if column in set_a else None
        right = b[column] if column in set_b else None
        columns.append(
            ColumnDiff(
                column=str(column),
                dtype_a=str(left.dtype) if left is not None else None,
                dtype_b=str(right.dtype) if right is not None else None,
                stats_a=_stats(left, pd) if left is not None else None,
                stats_b=_stats(right, pd) if right is not None else None,
            )
        )
        if (
            left is not None
            and right is not None
            and _same_kind(left, right, pd)
            and left.notna().any()
            and right.notna().any()
        ):
            comparable.append(column)

    report = None
    if drift and comparable and len(a) and len(b):
        from ._drift import drift as compute_drift

        report = compute_drift(
            a[comparable],
            b[comparable],
            columns=comparable,
            threshold=threshold,
            method=method,  # type: ignore[arg-type]  # checked by drift()
            categorical=[c for c in categorical if c in set(comparable)],
        )
    return DiffReport(
        names=(str(names[0]), str(names[1])),
        rows_a=len(a),
        rows_b=len(b),
        added=tuple(str(c) for c in added),
        removed=tuple(str(c) for c in removed),
        columns=tuple(columns),
        identical=bool(in_a == in_b and a.equals(b)),
        drift=report,
    )


def _same_kind(left: Any, right: Any, pd: Any) -> bool:
    types = pd.api.types

    def kind(series: Any) -> str:
        dtype = series.dtype
        if types.is_datetime64_any_dtype(dtype) or types.is_timedelta64_dtype(dtype):
            return "time"
        if types.is_bool_dtype(dtype) or not types.is_numeric_dtype(dtype):
            return "categorical"
        return "numeric"

    return kind(left) == kind(right) != "time"


def _stats(series: Any, pd: Any) -> dict[str, JSON]:
    types = pd.api.types
    dtype = series.dtype
    present = series.dropna()
    stats: dict[str, JSON] = {"count": len(present), "nulls": int(len(series) - len(present))}
    if types.is_numeric_dtype(dtype) and not types.is_bool_dtype(dtype):
        values = present.astype("float64")
        stats.update(
            mean=finite(values.mean()) if len(values) else None,
            std=finite(values.std()) if len(values) > 1 else None,
            min=finite(values.min()) if len(values) else None,
            max=finite(values.max()) if len(values) else None,
            unique=int(present.nunique()),
        )
    elif types.is_datetime64_any_dtype(dtype):
        stats.update(
            min=jsonable(present.min()) if len(present) else None,
            max=jsonable(present.max()) if len(present) else None,
            unique=int(present.nunique()),
        )
    else:
        counts = present.value_counts()
        stats.update(
            unique=len(counts[counts > 0]),
            top=jsonable(counts.index[0]) if len(counts) else None,
            top_count=int(counts.iloc[0]) if len(counts) else None,
        )
    return stats
