"""Promotion gates: conditions a model version must meet before an alias moves to it.

A gate is one of:

- ``"accuracy >= 0.8"``: a recorded metric compared with a number
  (``>=``, ``>``, ``<=``, ``<``, ``==``, ``!=``);
- ``"p99_ms <= 20"``: a latency percentile (``p50_ms``, ``p95_ms``, ``p99_ms``) measured
  by :func:`~headrace.models.latency.measure_latency`, at batch size 1 unless written
  ``"p99_ms@32 <= 50"``;
- ``"no drift"``: the latest drift check recorded on the version found no drift;
- a drift report object (anything with ``passed`` and ``verdict``), which must pass.

Every gate is checked and every failure reported; a metric the version never recorded
is a failure that names the metrics it has.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from headrace.models.errors import GateError

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
_EXPR = re.compile(
    r"^\s*(?P<name>[A-Za-z_][A-Za-z0-9_.]*)(?:@(?P<batch>\d+))?\s*"
    r"(?P<op>>=|<=|==|!=|>|<)\s*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)
_LATENCY = frozenset({"p50_ms", "p95_ms", "p99_ms", "mean_ms"})
NO_DRIFT = "no drift"


@dataclass(frozen=True, slots=True)
class Check:
    gate: str
    passed: bool
    observed: Any
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "passed": self.passed,
            "observed": self.observed,
            "reason": self.reason,
        }


def normalize(require: Any) -> list[Any]:
    """Gates as a list: a string, a drift report, or an iterable (set, list) of them,
    or a mapping ``{"accuracy": ">= 0.8"}`` / ``{"accuracy": 0.8}`` (a bare number means
    ``>=`` for a metric and ``<=`` for a latency such as ``p99_ms``)."""
    if require is None:
        return []
    if isinstance(require, str) or _is_report(require):
        items: list[Any] = [require]
    elif isinstance(require, Mapping):
        items = []
        for name, condition in require.items():
            if isinstance(condition, bool) or not isinstance(condition, str | int | float):
                raise GateError(f"gate for '{name}' must be a number or a string like '>= 0.8'")
            text = str(condition).strip()
            # A bare number is a floor for metrics and a ceiling for latency.
            bare = "<=" if str(name).split("@")[0] in _LATENCY else ">="
            items.append(f"{name} {text}" if text[:1] in "<>=!" else f"{name} {bare} {text}")
    elif isinstance(require, Iterable):
        items = list(require)
    else:
        raise GateError(f"require= takes gate strings, not {type(require).__name__}")
    gates: list[Any] = []
    for item in items:
        if _is_report(item):
            gates.append(item)
        elif isinstance(item, str):
            parse(item)  # fail on a malformed gate before anything is checked
            gates.append(item.strip())
        else:
            raise GateError(f"a gate must be a string like 'accuracy >= 0.8', not {item!r}")
    return sorted(gates, key=lambda g: g if isinstance(g, str) else "~drift report")


def parse(gate: str) -> tuple[str, int | None, str, float] | None:
    """(name, batch size, operator, threshold), or None for ``"no drift"``."""
    if gate.strip().lower() in (NO_DRIFT, "drift == none", "drift"):
        return None
    match = _EXPR.match(gate)
    if match is None:
        raise GateError(
            f"cannot read gate {gate!r}: write '<metric> <op> <number>' "
            "(op one of >=, >, <=, <, ==, !=), e.g. 'accuracy >= 0.8', 'p99_ms <= 20', "
            "or 'no drift'"
        )
    batch = match["batch"]
    if batch is not None and match["name"] not in _LATENCY:
        raise GateError(
            f"gate {gate!r}: '@batch' applies only to latency ({', '.join(sorted(_LATENCY))})"
        )
    return match["name"], int(batch) if batch else None, match["op"], float(match["value"])


def evaluate(gates: list[Any], metadata: Mapping[str, Any]) -> list[Check]:
    """Check each gate against a model version's metadata."""
    return [_check(gate, metadata) for gate in gates]


def _check(gate: Any, metadata: Mapping[str, Any]) -> Check:
    if _is_report(gate):
        verdict = str(getattr(gate, "verdict", ""))
        passed = bool(gate.passed)
        return Check(
            "drift report passes",
            passed,
            verdict,
            "drift report: " + (verdict or ("passed" if passed else "failed")),
        )
    parsed = parse(gate)
    if parsed is None:
        drift = metadata.get("drift")
        if not isinstance(drift, Mapping):
            return Check(gate, False, None, "no drift check is recorded on this version")
        verdict = str(drift.get("verdict"))
        return Check(gate, verdict == NO_DRIFT, verdict, f"latest drift check: {verdict}")
    name, batch, op, threshold = parsed
    if name in _LATENCY:
        observed, where = _latency(metadata, name, batch or 1)
    else:
        metrics = metadata.get("metrics") or {}
        observed = metrics.get(name) if isinstance(metrics, Mapping) else None
        recorded = sorted(metrics) if isinstance(metrics, Mapping) else []
        where = (
            f"unknown metric '{name}' (recorded: {', '.join(recorded)})"
            if recorded
            else f"unknown metric '{name}' (this version recorded no metrics)"
        )
    if observed is None:
        return Check(gate, False, None, where)
    if isinstance(observed, bool) or not isinstance(observed, int | float) or math.isnan(observed):
        return Check(gate, False, observed, f"'{name}' is {observed!r}, not a number")
    passed = _OPS[op](float(observed), threshold)
    label = f"{name}@{batch}" if batch else name
    return Check(
        gate,
        passed,
        observed,
        f"{label} = {observed:g} ({'meets' if passed else 'fails'} {op} {threshold:g})",
    )


def _latency(metadata: Mapping[str, Any], name: str, batch: int) -> tuple[Any, str]:
    latency = metadata.get("latency")
    if not isinstance(latency, Mapping) or not latency:
        return None, f"no latency is recorded on this version (measure_latency) for '{name}'"
    row = latency.get(str(batch))
    if not isinstance(row, Mapping):
        return None, (
            f"no latency at batch size {batch} is recorded "
            f"(batch sizes: {', '.join(sorted(latency, key=lambda b: int(b)))})"
        )
    return row.get(name), f"latency '{name}' at batch size {batch} is not recorded"


def _is_report(value: Any) -> bool:
    return not isinstance(value, str) and hasattr(value, "passed") and hasattr(value, "verdict")
