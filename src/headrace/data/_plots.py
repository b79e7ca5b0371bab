"""PNG charts of reports, drawn with matplotlib's object API (no pyplot, no global state)."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from headrace.errors import MissingExtraError

if TYPE_CHECKING:
    from .reports import BacktestReport, DiffReport, DriftReport, SliceReport, ValidationReport

_OK = "#4c9a6a"
_BAD = "#c8553d"
_NEUTRAL = "#5b7bb0"
_MAX_BARS = 30


def _figure(width: float, height: float, panels: int = 1) -> tuple[Any, list[Any]]:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingExtraError("matplotlib", "data", purpose="report plots") from exc
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = [fig.add_subplot(1, panels, i + 1) for i in range(panels)]
    return fig, axes


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    # No "Software" stamp, so the same report always gives the same bytes (and content hash).
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def _short(label: str, width: int = 28) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _hbar(ax: Any, labels: Sequence[str], values: Sequence[float], colors: Sequence[str]) -> None:
    labels, values, colors = labels[:_MAX_BARS], values[:_MAX_BARS], colors[:_MAX_BARS]
    positions = list(range(len(labels)))
    ax.barh(positions, values, color=colors)
    ax.set_yticks(positions, [_short(label) for label in labels])
    ax.invert_yaxis()


def validation_plots(report: ValidationReport) -> dict[str, bytes]:
    checks = sorted(report.checks, key=lambda c: -c.failures)
    fig, (ax,) = _figure(7.0, 0.9 + 0.28 * min(max(len(checks), 1), _MAX_BARS))
    labels = [f"{c.column}: {c.check}" if c.column is not None else c.check for c in checks]
    _hbar(ax, labels, [c.failures for c in checks], [_BAD if c.failures else _OK for c in checks])
    ax.set_xlabel("failures")
    ax.set_title(f"Validation: {len(report.failed_checks)} of {len(checks)} checks failed")
    return {"failures": _png(fig)}


def drift_plots(report: DriftReport) -> dict[str, bytes]:
    columns = list(report.columns)
    fig, (left, right) = _figure(9.0, 0.9 + 0.28 * min(max(len(columns), 1), _MAX_BARS), 2)
    names = [c.column for c in columns]
    colors = [_BAD if c.drifted else _OK for c in columns]
    _hbar(left, names, [c.psi or 0.0 for c in columns], colors)
    left.axvline(0.1, color="#999999", linestyle=":", linewidth=1)
    left.axvline(0.25, color="#999999", linestyle="--", linewidth=1)
    left.set_xlabel("population stability index")
    left.set_title("PSI (red: drifted)")
    p_values = [max(c.p_value, 1e-300) if c.p_value is not None else 1.0 for c in columns]
    _hbar(right, names, [-math.log10(p) for p in p_values], colors)
    right.axvline(-math.log10(0.05), color="#999999", linestyle="--", linewidth=1)
    right.set_xlabel("-log10 p-value (KS or chi-squared)")
    right.set_title(f"{len(report.drifted_columns)} of {len(columns)} columns drifted")
    return {"drift": _png(fig)}


def slice_plots(report: SliceReport) -> dict[str, bytes]:
    metrics = [m for m in report.metrics if m != "count"]
    slices = list(report.slices)[:_MAX_BARS]
    fig, (ax,) = _figure(8.0, 3.8)
    width = 0.8 / max(len(slices), 1)
    for i, row in enumerate(slices):
        values = [row.metrics.get(m) for m in metrics]
        ax.bar(
            [j + i * width for j in range(len(metrics))],
            [v if v is not None else 0.0 for v in values],
            width=width,
            label=_short(row.name, 20) + (" (small)" if row.small else ""),
            hatch="//" if row.small else None,
        )
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(metrics))], metrics)
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize="small", ncols=min(len(slices), 4) or 1)
    ax.set_title("Metrics per slice")
    return {"slices": _png(fig)}


def backtest_plots(report: BacktestReport) -> dict[str, bytes]:
    fig, (ax,) = _figure(8.0, 3.6)
    labels = [fold.test_start for fold in report.folds]
    for name in report.metric_names:
        values = [fold.metrics.get(name) for fold in report.folds]
        ax.plot(
            range(len(labels)),
            [v if v is not None else math.nan for v in values],
            marker="o",
            label=name,
        )
    if report.threshold is not None:
        ax.axhline(report.threshold, color=_BAD, linestyle="--", linewidth=1, label="threshold")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize="small")
    ax.set_xlabel("test window start")
    ax.legend(fontsize="small")
    ax.set_title(f"Backtest ({report.mode}, {len(report.folds)} folds)")
    return {"backtest": _png(fig)}


def diff_plots(report: DiffReport) -> dict[str, bytes]:
    fig, (left, right) = _figure(9.0, 3.6, 2)
    left.bar(list(report.names), [report.rows_a, report.rows_b], color=[_NEUTRAL, _NEUTRAL])
    left.set_title("Rows")
    if report.drift is not None and report.drift.columns:
        columns = list(report.drift.columns)
        _hbar(
            right,
            [c.column for c in columns],
            [c.psi or 0.0 for c in columns],
            [_BAD if c.drifted else _OK for c in columns],
        )
        right.set_xlabel("population stability index")
        right.set_title("Drift per common column (red: drifted)")
    else:
        right.set_axis_off()
        right.set_title("No drift computed")
    return {"diff": _png(fig)}
