"""Validation against a pandera schema, given or inferred from reference data."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from headrace.errors import ConfigError, MissingExtraError

from ._frames import import_pandas, jsonable, require_frame
from .reports import CheckResult, ValidationReport

_RANGE_CHECKS = ("greater_than_or_equal_to", "less_than_or_equal_to", "in_range")
_FRAME = "\x00frame"  # stands for "no column" in group keys; pandas drops None keys


def _pandera() -> Any:
    try:
        import pandera.pandas as pa
    except ImportError as exc:
        raise MissingExtraError("pandera", "data", purpose="data validation") from exc
    return pa


def infer_schema(
    df: Any,
    *,
    categories: int = 20,
    ranges: bool = True,
    name: str | None = "inferred",
) -> Any:
    """Infer a pandera ``DataFrameSchema`` from reference data.

    Each column gets the reference's exact dtype (no coercion), ``nullable`` only if the
    reference has missing values, and, with ``ranges``, the reference's minimum and
    maximum as bounds. Text and object columns with at most ``categories`` distinct values
    (and categoricals) must stay within the values seen. The index is not checked.
    """
    pa = _pandera()
    pd = import_pandas()
    require_frame(df, "reference")
    inferred = pa.infer_schema(df)
    columns = {}
    for column_name, column in inferred.columns.items():
        checks = [check for check in column.checks if ranges or check.name not in _RANGE_CHECKS]
        series = df[column_name]
        textual = pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(
            series.dtype
        )
        if categories and textual and not any(check.name == "isin" for check in checks):
            values = series.dropna().unique().tolist()
            if 0 < len(values) <= categories:
                checks.append(pa.Check.isin(sorted(values, key=str)))
        columns[column_name] = pa.Column(
            column.dtype,
            checks=checks,
            nullable=column.nullable,
            name=column_name,
        )
    return pa.DataFrameSchema(columns, coerce=False, name=name)


def validate(
    df: Any,
    schema: Any,
    *,
    sample: int = 5,
    max_failing_rows: int = 10_000,
) -> ValidationReport:
    """Validate ``df`` against ``schema`` and report every failed check.

    ``schema`` is a pandera ``DataFrameSchema`` (or ``DataFrameModel`` class), a reference
    DataFrame to infer one from (see :func:`infer_schema`), or a pandera schema serialized
    as JSON or YAML (a string or a mapping). Validation is lazy: all failures are
    collected, counted per check, and the failing rows located; nothing is raised for
    invalid data (see :meth:`ValidationReport.raise_if_failed`).
    """
    pa = _pandera()
    require_frame(df, "frame")
    resolved = _as_schema(schema, pa)
    entries: dict[tuple[str | None, str, int | None], int] = {}
    for column_name, column in resolved.columns.items():
        label = str(column_name)
        if column.dtype is not None:
            entries[(label, f"dtype('{column.dtype}')", None)] = 0
        if not column.nullable:
            entries[(label, "not_nullable", None)] = 0
        if column.unique:
            entries[(label, "field_uniqueness", None)] = 0
        for number, check in enumerate(column.checks):
            entries[(label, _check_label(check), number)] = 0
    for number, check in enumerate(resolved.checks):
        entries[(None, _check_label(check), number)] = 0

    failing_index: Any = None
    try:
        resolved.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        failing_index = _count_failures(exc.failure_cases, entries)

    pd = import_pandas()
    if failing_index is not None and len(failing_index):
        mask = df.index.isin(failing_index)
        n_failing = int(mask.sum())
        failing = df.index[mask]
    else:
        n_failing, failing = 0, pd.Index([])
    failed_columns = {column for (column, _, _), n in entries.items() if n and column is not None}
    shown = (
        list(df.columns)
        if df.shape[1] <= 20
        else [c for c in df.columns if str(c) in failed_columns]
    )
    rows = []
    if n_failing and sample > 0:
        for label, row in df.loc[failing[:sample], shown].iterrows():
            rows.append({"index": jsonable(label), **{str(k): jsonable(v) for k, v in row.items()}})
    return ValidationReport(
        n_rows=len(df),
        n_columns=df.shape[1],
        checks=tuple(CheckResult(column, check, n) for (column, check, _), n in entries.items()),
        n_failing_rows=n_failing,
        failing_rows=tuple(jsonable(label) for label in failing[:max_failing_rows]),
        sample=tuple(rows),
        schema_name=resolved.name,
    )


def _count_failures(cases: Any, entries: dict[tuple[str | None, str, int | None], int]) -> Any:
    """Add pandera's failure cases to ``entries``; return the labels of failing rows."""
    pd = import_pandas()
    check = cases["check"].astype(str)
    column = cases["column"].astype(object)
    present = check == "column_in_dataframe"
    column = column.where(~present, cases["failure_case"].astype(object))
    numbered = cases["check_number"].notna()
    # A frame-wide check reports one case per column of a failing row: it belongs to no column.
    frame_wide = (cases["schema_context"].astype(str) == "DataFrameSchema") & numbered & ~present
    column = column.where(~frame_wide, None)
    keys = pd.DataFrame(
        {
            "column": column.map(lambda v: _FRAME if v is None or v != v else str(v)),
            "check": check,
            "number": cases["check_number"].map(lambda v: -1 if v is None or v != v else int(v)),
            "index": cases["index"],
        }
    )
    grouped = keys.groupby(["column", "check", "number"], sort=False)
    counts = grouped["index"].nunique()
    sizes = grouped.size()
    for (column_key, check_key, number_key), rows in counts.items():
        key = (
            None if column_key == _FRAME else column_key,
            check_key,
            None if number_key < 0 else int(number_key),
        )
        failures = int(rows) or int(sizes[(column_key, check_key, number_key)])
        if key not in entries and check_key.startswith("dtype("):
            key = next((k for k in entries if k[0] == key[0] and k[1].startswith("dtype(")), key)
        entries[key] = entries.get(key, 0) + failures
    row_level = keys["index"].notna() & ~keys["check"].str.startswith("dtype(")
    return pd.unique(keys.loc[row_level, "index"].to_numpy())


def _check_label(check: Any) -> str:
    return str(check.error or check.name)


def _as_schema(schema: Any, pa: Any) -> Any:
    pd = import_pandas()
    if isinstance(schema, pa.DataFrameSchema):
        return schema
    if isinstance(schema, type) and issubclass(schema, pa.DataFrameModel):
        model: Any = schema
        return model.to_schema()
    if isinstance(schema, pd.DataFrame):
        return infer_schema(schema)
    if isinstance(schema, Mapping):
        return pa.DataFrameSchema.from_json(json.dumps(schema))
    if isinstance(schema, str):
        text = schema.strip()
        if text.startswith("{"):
            return pa.DataFrameSchema.from_json(text)
        return pa.DataFrameSchema.from_yaml(text)
    raise ConfigError(
        "schema must be a pandera DataFrameSchema or DataFrameModel, a reference "
        f"DataFrame, or a serialized pandera schema, not {type(schema).__name__}"
    )
