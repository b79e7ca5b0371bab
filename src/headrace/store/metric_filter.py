"""``--where`` expressions on runs' metrics: ``accuracy > 0.9 and loss <= 0.2``.

Each condition compares the last value a run logged for a metric (``log_metric``) with
a number; conditions are joined with ``and``. A run that never logged a metric named in
the expression does not match.
"""

from __future__ import annotations

import math
import re

from headrace.errors import ConfigError
from headrace.store.records import MetricCondition

OPERATORS = (">=", "<=", "==", "!=", ">", "<")
_CONDITION = re.compile(
    r"^\s*(?P<name>[A-Za-z_][\w./-]*)\s*(?P<op>>=|<=|==|!=|=|>|<)\s*(?P<value>\S+)\s*$"
)
_EXAMPLE = "NAME OP NUMBER with OP one of > >= < <= == != (e.g. 'accuracy > 0.9 and loss < 0.3')"


def parse_where(text: str) -> tuple[MetricCondition, ...]:
    """The conditions of an expression; ConfigError saying what is wrong and where."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"--where expression is empty: expected {_EXAMPLE}")
    if re.search(r"\s(or|not)\s", f" {text} ", flags=re.IGNORECASE):
        raise ConfigError(f"--where {text!r}: only 'and' joins conditions: expected {_EXAMPLE}")
    conditions = []
    parts = re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE)
    for part in parts:
        match = _CONDITION.match(part)
        if match is None:
            raise ConfigError(
                f"--where {text!r}: cannot read {part.strip()!r}: expected {_EXAMPLE}"
            )
        raw = match.group("value")
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(
                f"--where {text!r}: {raw!r} in {part.strip()!r} is not a number: expected {_EXAMPLE}"
            ) from None
        if not math.isfinite(value):
            raise ConfigError(f"--where {text!r}: {raw!r} is not a finite number")
        op = "==" if match.group("op") == "=" else match.group("op")
        conditions.append(MetricCondition(match.group("name"), op, value))
    return tuple(conditions)
