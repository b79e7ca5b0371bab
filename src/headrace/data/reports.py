"""The reports the data toolkit returns. Each is an artifact a step can output.

Every report is a frozen dataclass holding JSON values only, with the same surface:

- ``passed`` and ``verdict``: the one-word answer;
- ``summary()``: the headline numbers (recorded as artifact metadata);
- ``to_dict()`` / ``from_dict()``: JSON round trip (``report.json`` in the artifact);
- ``to_html()``: a self-contained HTML page (``summary.html``), every user string escaped;
- ``plots()``: PNG charts as ``{name: bytes}``, drawn with matplotlib.

The class names, ``headrace.data.reports.<Name>``, identify the type of stored
artifacts, so they must not move.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from . import _html, _plots
from .errors import ColumnNotFoundError, ValidationFailedError

__all__ = [
    "BacktestFold",
    "BacktestReport",
    "CheckResult",
    "ColumnDiff",
    "ColumnDrift",
    "DiffReport",
    "DriftReport",
    "SliceReport",
    "SliceResult",
    "ValidationReport",
]

JSON = Any
"""A JSON value: None, bool, int, float, str, list or dict of JSON values."""


def _plain(value: Any) -> JSON:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _kind(data: Mapping[str, Any], expected: str) -> None:
    found = data.get("type", expected)
    if found != expected:
        raise ValueError(f"this is a {found} dict, not a {expected}")


class _Report:
    """What every report shares; subclasses are frozen dataclasses."""

    __slots__ = ()
    title: ClassVar[str] = "Report"

    @property
    def passed(self) -> bool:
        raise NotImplementedError

    @property
    def verdict(self) -> str:
        raise NotImplementedError

    def summary(self) -> dict[str, JSON]:
        raise NotImplementedError

    def _tables(self) -> list[_html.Table]:
        raise NotImplementedError

    def plots(self) -> dict[str, bytes]:
        """PNG charts of the report, by name."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, JSON]:
        """The report as JSON values, tagged with its type."""
        return {"type": type(self).__name__, **_plain(self)}

    def to_html(self, *, include_plots: bool = False) -> str:
        """A self-contained HTML page; ``include_plots`` embeds the PNG charts."""
        headline = {k: v for k, v in self.summary().items() if k != "passed"}
        headline = {
            k: ", ".join(map(str, v)) if isinstance(v, list) else v for k, v in headline.items()
        }
        return _html.page(
            self.title,
            ok=self.passed,
            verdict=self.verdict,
            headline=headline,
            tables=self._tables(),
            images=self.plots() if include_plots else None,
        )


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One schema check and how many rows (or, for schema-level checks, cases) failed it."""

    column: str | None
    check: str
    failures: int

    @property
    def passed(self) -> bool:
        return self.failures == 0


@dataclass(frozen=True, slots=True)
class ValidationReport(_Report):
    """The result of :func:`headrace.data.validate`."""

    n_rows: int
    n_columns: int
    checks: tuple[CheckResult, ...]
    n_failing_rows: int
    failing_rows: tuple[JSON, ...] = ()
    """Index labels of the failing rows, in frame order (at most ``max_failing_rows``)."""
    sample: tuple[dict[str, JSON], ...] = ()
    """A few failing rows as ``{"index": label, column: value, ...}``."""
    schema_name: str | None = None
    title: ClassVar[str] = "Validation report"

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def verdict(self) -> str:
        return "passed" if self.passed else "failed"

    @property
    def failed_checks(self) -> tuple[CheckResult, ...]:
        return tuple(check for check in self.checks if not check.passed)

    @property
    def failure_counts(self) -> dict[str, int]:
        """``{"column: check": failures}`` for every check (``check`` alone for frame checks)."""
        return {
            f"{c.column}: {c.check}" if c.column is not None else c.check: c.failures
            for c in self.checks
        }

    def summary(self) -> dict[str, JSON]:
        return {
            "passed": self.passed,
            "rows": self.n_rows,
            "checks": len(self.checks),
            "failed_checks": len(self.failed_checks),
            "failing_rows": self.n_failing_rows,
            "failing_share": self.n_failing_rows / self.n_rows if self.n_rows else 0.0,
        }

    def raise_if_failed(self) -> None:
        """Raise :class:`~headrace.data.errors.ValidationFailedError` unless the data passed."""
        if not self.passed:
            raise ValidationFailedError(self)

    def _tables(self) -> list[_html.Table]:
        checks = sorted(self.checks, key=lambda c: -c.failures)
        tables = [
            _html.Table(
                "Checks",
                ("column", "check", "failures"),
                [(c.column, c.check, c.failures) for c in checks],
                [not c.passed for c in checks],
            )
        ]
        if self.sample:
            headers = list(dict.fromkeys(k for row in self.sample for k in row))
            tables.append(
                _html.Table(
                    "Sample of failing rows",
                    headers,
                    [[row.get(h) for h in headers] for row in self.sample],
                )
            )
        return tables

    def plots(self) -> dict[str, bytes]:
        return _plots.validation_plots(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationReport:
        _kind(data, cls.__name__)
        return cls(
            n_rows=data["n_rows"],
            n_columns=data["n_columns"],
            checks=tuple(CheckResult(**c) for c in data["checks"]),
            n_failing_rows=data["n_failing_rows"],
            failing_rows=tuple(data.get("failing_rows", ())),
            sample=tuple(dict(row) for row in data.get("sample", ())),
            schema_name=data.get("schema_name"),
        )


# --------------------------------------------------------------------------- drift


@dataclass(frozen=True, slots=True)
class ColumnDrift:
    """Drift of one column between the reference and the current data.

    ``method`` made the verdict by comparing ``score`` with ``threshold``; ``statistic``
    and ``p_value`` are always the Kolmogorov-Smirnov test for numeric columns and the
    chi-squared test for categorical ones, and ``psi`` the population stability index.
    """

    column: str
    kind: str
    method: str
    score: float | None
    threshold: float
    drifted: bool
    statistic: float | None = None
    p_value: float | None = None
    psi: float | None = None
    n_reference: int = 0
    n_current: int = 0


@dataclass(frozen=True, slots=True)
class DriftReport(_Report):
    """The result of :func:`headrace.data.drift`.

    The data as a whole has drifted when the share of drifted columns is at least
    ``drift_share``; ``passed`` is the opposite.
    """

    columns: tuple[ColumnDrift, ...]
    n_reference: int
    n_current: int
    drift_share: float = 0.5
    method: str = "auto"
    flavor: str = "scipy"
    skipped: tuple[str, ...] = ()
    title: ClassVar[str] = "Drift report"

    @property
    def drifted_columns(self) -> tuple[str, ...]:
        return tuple(c.column for c in self.columns if c.drifted)

    @property
    def share_drifted(self) -> float:
        return len(self.drifted_columns) / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.columns) and self.share_drifted >= self.drift_share

    @property
    def passed(self) -> bool:
        return not self.dataset_drift

    @property
    def verdict(self) -> str:
        return "drift" if self.dataset_drift else "no drift"

    def __getitem__(self, column: str) -> ColumnDrift:
        for result in self.columns:
            if result.column == column:
                return result
        raise ColumnNotFoundError(
            column, frame="drift report", available=[c.column for c in self.columns]
        )

    def summary(self) -> dict[str, JSON]:
        psis = [c.psi for c in self.columns if c.psi is not None]
        return {
            "passed": self.passed,
            "dataset_drift": self.dataset_drift,
            "columns": len(self.columns),
            "drifted_columns": len(self.drifted_columns),
            "share_drifted": self.share_drifted,
            "drifted": list(self.drifted_columns),
            "max_psi": max(psis) if psis else None,
            "reference_rows": self.n_reference,
            "current_rows": self.n_current,
        }

    def _tables(self) -> list[_html.Table]:
        return [
            _html.Table(
                f"Columns (flavor {self.flavor}, method {self.method})",
                (
                    "column",
                    "kind",
                    "method",
                    "score",
                    "threshold",
                    "drifted",
                    "p-value",
                    "PSI",
                    "reference rows",
                    "current rows",
                ),
                [
                    (
                        c.column,
                        c.kind,
                        c.method,
                        c.score,
                        c.threshold,
                        c.drifted,
                        c.p_value,
                        c.psi,
                        c.n_reference,
                        c.n_current,
                    )
                    for c in self.columns
                ],
                [c.drifted for c in self.columns],
            )
        ]

    def plots(self) -> dict[str, bytes]:
        return _plots.drift_plots(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReport:
        _kind(data, cls.__name__)
        return cls(
            columns=tuple(ColumnDrift(**c) for c in data["columns"]),
            n_reference=data["n_reference"],
            n_current=data["n_current"],
            drift_share=data.get("drift_share", 0.5),
            method=data.get("method", "auto"),
            flavor=data.get("flavor", "scipy"),
            skipped=tuple(data.get("skipped", ())),
        )


# --------------------------------------------------------------------------- slices


@dataclass(frozen=True, slots=True)
class SliceResult:
    """The metrics of one slice; ``small`` when it has fewer than ``min_size`` members."""

    name: str
    key: dict[str, JSON]
    count: int
    metrics: dict[str, float | None]
    small: bool = False


@dataclass(frozen=True, slots=True)
class SliceReport(_Report):
    """The result of :func:`headrace.data.slice_metrics`.

    ``gaps`` is, per metric, the largest minus the smallest value across slices.
    ``passed`` unless the demographic parity or equal opportunity difference exceeds
    ``max_gap`` (never fails when ``max_gap`` is None).
    """

    by: tuple[str, ...]
    metrics: tuple[str, ...]
    slices: tuple[SliceResult, ...]
    overall: dict[str, float | None]
    gaps: dict[str, float | None]
    demographic_parity_difference: float | None
    equal_opportunity_difference: float | None
    min_size: int = 30
    max_gap: float | None = 0.1
    pos_label: JSON = 1
    title: ClassVar[str] = "Slice metrics"

    @property
    def small_slices(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.slices if s.small)

    @property
    def passed(self) -> bool:
        if self.max_gap is None:
            return True
        gaps = (self.demographic_parity_difference, self.equal_opportunity_difference)
        return all(gap is None or gap <= self.max_gap for gap in gaps)

    @property
    def verdict(self) -> str:
        return "within gap" if self.passed else "gap exceeded"

    def __getitem__(self, name: str) -> SliceResult:
        for result in self.slices:
            if result.name == name:
                return result
        raise KeyError(name)

    def summary(self) -> dict[str, JSON]:
        return {
            "passed": self.passed,
            "slices": len(self.slices),
            "small_slices": len(self.small_slices),
            "demographic_parity_difference": self.demographic_parity_difference,
            "equal_opportunity_difference": self.equal_opportunity_difference,
            **{f"overall_{name}": value for name, value in self.overall.items()},
        }

    def _tables(self) -> list[_html.Table]:
        metrics = list(self.metrics)
        return [
            _html.Table(
                "Slices",
                ("slice", "count", *metrics, "small"),
                [
                    (s.name, s.count, *(s.metrics.get(m) for m in metrics), s.small)
                    for s in self.slices
                ],
                [s.small for s in self.slices],
            ),
            _html.Table(
                "Gaps between slices (max - min)",
                ("metric", "gap", "overall"),
                [(m, self.gaps.get(m), self.overall.get(m)) for m in self.gaps],
            ),
        ]

    def plots(self) -> dict[str, bytes]:
        return _plots.slice_plots(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SliceReport:
        _kind(data, cls.__name__)
        return cls(
            by=tuple(data["by"]),
            metrics=tuple(data["metrics"]),
            slices=tuple(SliceResult(**s) for s in data["slices"]),
            overall=dict(data["overall"]),
            gaps=dict(data["gaps"]),
            demographic_parity_difference=data.get("demographic_parity_difference"),
            equal_opportunity_difference=data.get("equal_opportunity_difference"),
            min_size=data.get("min_size", 30),
            max_gap=data.get("max_gap"),
            pos_label=data.get("pos_label", 1),
        )


# --------------------------------------------------------------------------- backtest


@dataclass(frozen=True, slots=True)
class BacktestFold:
    """One simulated deployment: trained on ``[train_start, train_end)``, scored on the test window."""

    index: int
    train_start: str
    train_end: str
    test_start: str
    test_end: str
    n_train: int
    n_test: int
    metrics: dict[str, float | None]


@dataclass(frozen=True, slots=True)
class BacktestReport(_Report):
    """The result of :func:`headrace.data.backtest`: one fold per test window, in time order."""

    on: str
    window: str
    mode: str
    train_windows: int
    folds: tuple[BacktestFold, ...]
    threshold: float | None = None
    higher_is_better: bool = True
    title: ClassVar[str] = "Backtest"

    @property
    def metric_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for fold in self.folds for name in fold.metrics))

    @property
    def primary_metric(self) -> str | None:
        names = self.metric_names
        return names[0] if names else None

    def values(self, metric: str | None = None) -> list[float | None]:
        """The metric's value per fold (the first metric by default)."""
        name = metric if metric is not None else self.primary_metric
        return [fold.metrics.get(name) if name is not None else None for fold in self.folds]

    @property
    def failing_folds(self) -> tuple[int, ...]:
        if self.threshold is None:
            return ()
        limit = self.threshold
        return tuple(
            fold.index
            for fold, value in zip(self.folds, self.values(), strict=True)
            if value is None or (value < limit if self.higher_is_better else value > limit)
        )

    @property
    def passed(self) -> bool:
        return not self.failing_folds

    @property
    def verdict(self) -> str:
        if self.threshold is None:
            return "completed"
        return (
            "passed" if self.passed else f"{len(self.failing_folds)} fold(s) missed the threshold"
        )

    def summary(self) -> dict[str, JSON]:
        values = [v for v in self.values() if v is not None]
        slope = None
        if len(values) >= 2:
            n = len(values)
            mean_x, mean_y = (n - 1) / 2, sum(values) / n
            denominator = sum((i - mean_x) ** 2 for i in range(n))
            slope = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values)) / denominator
        return {
            "passed": self.passed,
            "folds": len(self.folds),
            "metric": self.primary_metric,
            "mean": sum(values) / len(values) if values else None,
            "min": min(values) if values else None,
            "max": max(values) if values else None,
            "first": values[0] if values else None,
            "last": values[-1] if values else None,
            "change": values[-1] - values[0] if values else None,
            "trend_per_fold": slope,
        }

    def _tables(self) -> list[_html.Table]:
        names = list(self.metric_names)
        failing = set(self.failing_folds)
        return [
            _html.Table(
                f"Folds ({self.mode}, window {self.window}, on {self.on})",
                (
                    "fold",
                    "train from",
                    "train until",
                    "test from",
                    "test until",
                    "train rows",
                    "test rows",
                    *names,
                ),
                [
                    (
                        f.index,
                        f.train_start,
                        f.train_end,
                        f.test_start,
                        f.test_end,
                        f.n_train,
                        f.n_test,
                        *(f.metrics.get(n) for n in names),
                    )
                    for f in self.folds
                ],
                [f.index in failing for f in self.folds],
            )
        ]

    def plots(self) -> dict[str, bytes]:
        return _plots.backtest_plots(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BacktestReport:
        _kind(data, cls.__name__)
        return cls(
            on=data["on"],
            window=data["window"],
            mode=data["mode"],
            train_windows=data["train_windows"],
            folds=tuple(BacktestFold(**f) for f in data["folds"]),
            threshold=data.get("threshold"),
            higher_is_better=data.get("higher_is_better", True),
        )


# --------------------------------------------------------------------------- diff


@dataclass(frozen=True, slots=True)
class ColumnDiff:
    """One column in the two versions; a side is None where the column is absent."""

    column: str
    dtype_a: str | None
    dtype_b: str | None
    stats_a: dict[str, JSON] | None
    stats_b: dict[str, JSON] | None

    @property
    def dtype_changed(self) -> bool:
        return None not in (self.dtype_a, self.dtype_b) and self.dtype_a != self.dtype_b


@dataclass(frozen=True, slots=True)
class DiffReport(_Report):
    """The result of :func:`headrace.data.diff`: what changed from version a to version b.

    ``passed`` when no column was removed or changed dtype and the data did not drift.
    """

    names: tuple[str, str]
    rows_a: int
    rows_b: int
    added: tuple[str, ...]
    removed: tuple[str, ...]
    columns: tuple[ColumnDiff, ...]
    identical: bool
    drift: DriftReport | None = None
    title: ClassVar[str] = "Dataset diff"

    @property
    def dtype_changes(self) -> tuple[tuple[str, str, str], ...]:
        return tuple(
            (c.column, str(c.dtype_a), str(c.dtype_b)) for c in self.columns if c.dtype_changed
        )

    @property
    def schema_changed(self) -> bool:
        return bool(self.added or self.removed or self.dtype_changes)

    @property
    def drifted_columns(self) -> tuple[str, ...]:
        return self.drift.drifted_columns if self.drift is not None else ()

    @property
    def passed(self) -> bool:
        breaking = bool(self.removed or self.dtype_changes)
        return not breaking and (self.drift is None or self.drift.passed)

    @property
    def verdict(self) -> str:
        if self.identical:
            return "identical"
        return "compatible" if self.passed else "changed"

    def __getitem__(self, column: str) -> ColumnDiff:
        for result in self.columns:
            if result.column == column:
                return result
        raise ColumnNotFoundError(
            column, frame="diff report", available=[c.column for c in self.columns]
        )

    def summary(self) -> dict[str, JSON]:
        return {
            "passed": self.passed,
            "identical": self.identical,
            "rows_a": self.rows_a,
            "rows_b": self.rows_b,
            "row_delta": self.rows_b - self.rows_a,
            "added_columns": list(self.added),
            "removed_columns": list(self.removed),
            "dtype_changes": [f"{c}: {a} -> {b}" for c, a, b in self.dtype_changes],
            "drifted_columns": list(self.drifted_columns),
        }

    def _tables(self) -> list[_html.Table]:
        a, b = self.names
        keys = ["count", "nulls", "mean", "std", "min", "max", "unique", "top"]
        rows, flags = [], []
        for c in self.columns:
            sa, sb = c.stats_a or {}, c.stats_b or {}
            rows.append(
                (
                    c.column,
                    c.dtype_a,
                    c.dtype_b,
                    *(f"{_html_value(sa.get(k))} → {_html_value(sb.get(k))}" for k in keys),
                )
            )
            flags.append(c.dtype_changed or c.stats_a is None or c.stats_b is None)
        tables = [
            _html.Table(
                f"Columns ({a} → {b})", ("column", f"dtype {a}", f"dtype {b}", *keys), rows, flags
            )
        ]
        if self.drift is not None:
            tables.extend(self.drift._tables())
        return tables

    def plots(self) -> dict[str, bytes]:
        return _plots.diff_plots(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DiffReport:
        _kind(data, cls.__name__)
        drift = data.get("drift")
        names = data["names"]
        return cls(
            names=(names[0], names[1]),
            rows_a=data["rows_a"],
            rows_b=data["rows_b"],
            added=tuple(data["added"]),
            removed=tuple(data["removed"]),
            columns=tuple(ColumnDiff(**c) for c in data["columns"]),
            identical=data["identical"],
            drift=DriftReport.from_dict(drift) if drift is not None else None,
        )


def _html_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
