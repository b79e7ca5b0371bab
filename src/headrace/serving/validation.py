"""Check a /predict payload against a model's input signature, naming every bad field.

Accepted shapes: ``{"records": [{...}, ...]}``, a list of records, or one record. A
record is an object with exactly the signature's fields; ``number`` takes JSON numbers,
``integer`` whole numbers, ``boolean`` true/false (or 0/1), ``string`` strings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

MAX_RECORDS = 10_000
MAX_ERRORS = 20


class PayloadError(Exception):
    """The payload does not match the signature; ``errors`` are FastAPI-style details."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))


def _error(loc: Sequence[Any], msg: str) -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg}


def validate_payload(
    payload: Any, inputs: Sequence[tuple[str, str]]
) -> tuple[list[list[Any]], list[dict[str, Any]]]:
    """(rows in signature order, the records as given)."""
    if isinstance(payload, dict) and "records" in payload:
        extra = sorted(set(payload) - {"records"})
        if extra:
            raise PayloadError([_error([extra[0]], "unexpected field next to 'records'")])
        records, where = payload["records"], ["records"]
        if not isinstance(records, list):
            raise PayloadError([_error(where, "must be a list of records")])
    elif isinstance(payload, list):
        records, where = payload, []
    elif isinstance(payload, dict):
        records, where = [payload], []
    else:
        raise PayloadError([_error([], "expected a JSON object or a list of objects")])
    if not records:
        raise PayloadError([_error(where, "no records to predict")])
    if len(records) > MAX_RECORDS:
        raise PayloadError([_error(where, f"at most {MAX_RECORDS} records per request")])

    names = {n for n, _ in inputs}
    rows: list[list[Any]] = []
    errors: list[dict[str, Any]] = []
    single = isinstance(payload, dict) and "records" not in payload
    for index, record in enumerate(records):
        at = where if single else [*where, index]
        if not isinstance(record, dict):
            errors.append(_error(at, "must be an object of feature values"))
            continue
        row = []
        for name, kind in inputs:
            if name not in record:
                errors.append(_error([*at, name], f"field required ({kind})"))
                continue
            value, problem = _convert(record[name], kind)
            if problem:
                errors.append(_error([*at, name], problem))
            row.append(value)
        for name in record:
            if name not in names:
                errors.append(_error([*at, name], "unknown field"))
        rows.append(row)
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise PayloadError(errors[:MAX_ERRORS])
    return rows, records


def _convert(value: Any, kind: str) -> tuple[Any, str | None]:
    if kind == "string":
        return (
            (value, None)
            if isinstance(value, str)
            else (None, f"expected a string, got {_kind(value)}")
        )
    if kind == "boolean":
        if isinstance(value, bool):
            return value, None
        if isinstance(value, int) and value in (0, 1):
            return bool(value), None
        return None, f"expected true or false, got {_kind(value)}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, f"expected a number, got {_kind(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return None, "expected a finite number"
    if kind == "integer" and isinstance(value, float):
        if not value.is_integer():
            return None, f"expected a whole number, got {value}"
        return int(value), None
    return value, None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"a string ({value[:20]!r})"
    if isinstance(value, list | dict):
        return "an array" if isinstance(value, list) else "an object"
    return type(value).__name__
