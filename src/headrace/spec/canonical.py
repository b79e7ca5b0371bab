"""Canonical JSON: one byte string per value, whatever the dict order or process."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any


def is_json_value(value: Any) -> bool:
    """True for None, bool, int, finite float, str, and lists/tuples/str-keyed dicts of them."""
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(is_json_value(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_json_value(v) for k, v in value.items())
    return False


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, tuples as lists; NaN and infinities are refused."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def sha256_hex(data: str | bytes) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()
