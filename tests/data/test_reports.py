"""Every report: JSON round trip, summary, escaped self-contained HTML and PNG plots."""

from __future__ import annotations

import dataclasses
import json

import pytest

import headrace.data as hd
from headrace.data import reports

TYPES = {
    "validation": hd.ValidationReport,
    "drift": hd.DriftReport,
    "slices": hd.SliceReport,
    "backtest": hd.BacktestReport,
    "diff": hd.DiffReport,
}


@pytest.mark.parametrize("kind", TYPES)
def test_json_round_trip(all_reports: dict[str, object], kind: str) -> None:
    report = all_reports[kind]
    assert type(report) is TYPES[kind]
    data = report.to_dict()  # type: ignore[attr-defined]
    assert data["type"] == TYPES[kind].__name__
    text = json.dumps(data, allow_nan=False, sort_keys=True)
    again = TYPES[kind].from_dict(json.loads(text))  # type: ignore[attr-defined]
    assert again == report
    assert json.dumps(again.to_dict(), allow_nan=False, sort_keys=True) == text


@pytest.mark.parametrize("kind", TYPES)
def test_summary_and_verdict(all_reports: dict[str, object], kind: str) -> None:
    report = all_reports[kind]
    summary = report.summary()  # type: ignore[attr-defined]
    json.dumps(summary, allow_nan=False)
    assert summary["passed"] is report.passed  # type: ignore[attr-defined]
    assert isinstance(report.verdict, str) and report.verdict  # type: ignore[attr-defined]


def test_the_verdicts_of_the_sample_reports(all_reports: dict[str, object]) -> None:
    verdicts = {kind: (r.passed, r.verdict) for kind, r in all_reports.items()}  # type: ignore[attr-defined]
    assert verdicts == {
        "validation": (False, "failed"),
        "drift": (True, "no drift"),
        "slices": (True, "within gap"),
        "backtest": (True, "passed"),
        "diff": (False, "changed"),
    }


@pytest.mark.parametrize("kind", TYPES)
def test_html_is_self_contained_and_escaped(all_reports: dict[str, object], kind: str) -> None:
    html = all_reports[kind].to_html()  # type: ignore[attr-defined]
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    for raw in ("<b>shift</b>", "<i>", "<script>", "http://", "https://"):
        assert raw not in html
    if kind in ("validation", "drift", "diff"):
        assert "&lt;b&gt;shift&lt;/b&gt;" in html
    if kind in ("drift", "diff"):
        assert "cat &quot;&amp;&quot; &lt;i&gt;" in html
    if kind == "slices":
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    with_plots = all_reports[kind].to_html(include_plots=True)  # type: ignore[attr-defined]
    assert "data:image/png;base64," in with_plots


@pytest.mark.parametrize("kind", TYPES)
def test_plots_are_deterministic_pngs(all_reports: dict[str, object], kind: str) -> None:
    plots = all_reports[kind].plots()  # type: ignore[attr-defined]
    assert plots and all(name.isidentifier() for name in plots)
    for png in plots.values():
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert all_reports[kind].plots() == plots  # type: ignore[attr-defined]


def test_reports_are_frozen(all_reports: dict[str, object]) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        all_reports["drift"].n_current = 1  # type: ignore[attr-defined,misc]


def test_from_dict_checks_the_type(all_reports: dict[str, object]) -> None:
    data = all_reports["drift"].to_dict()  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="DriftReport dict, not a SliceReport"):
        hd.SliceReport.from_dict(data)


def test_report_classes_live_in_the_reports_module() -> None:
    for cls in TYPES.values():
        assert cls.__module__ == "headrace.data.reports"
        assert getattr(reports, cls.__name__) is cls
