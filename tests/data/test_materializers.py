"""The report materializers: chosen by the registry, save -> load round trips, metadata."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

import headrace.data as hd
from headrace.data import _materializers
from headrace.errors import MaterializerError

ROOT = Path(__file__).resolve().parents[2]
CLASSES = {
    "validation": _materializers.ValidationReportMaterializer,
    "drift": _materializers.DriftReportMaterializer,
    "slices": _materializers.SliceReportMaterializer,
    "backtest": _materializers.BacktestReportMaterializer,
    "diff": _materializers.DiffReportMaterializer,
}
PLOTS = {
    "validation": "failures",
    "drift": "drift",
    "slices": "slices",
    "backtest": "backtest",
    "diff": "diff",
}


@pytest.mark.parametrize("kind", CLASSES)
def test_save_writes_json_html_and_pngs_and_load_round_trips(
    all_reports: dict[str, object], kind: str, tmp_path: Path
) -> None:
    report = all_reports[kind]
    materializer = CLASSES[kind]()
    metadata = materializer.save(report, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["report.json", "summary.html", f"{PLOTS[kind]}.png"]
    )
    assert json.loads((tmp_path / "report.json").read_text()) == report.to_dict()  # type: ignore[attr-defined]
    assert (tmp_path / "summary.html").read_text() == report.to_html()  # type: ignore[attr-defined]
    json.dumps(metadata, allow_nan=False)
    assert metadata["passed"] is report.passed  # type: ignore[attr-defined]
    assert metadata["verdict"] == report.verdict  # type: ignore[attr-defined]
    assert metadata["plots"] == [f"{PLOTS[kind]}.png"]
    assert materializer.load(tmp_path, "ignored") == report


@pytest.mark.parametrize("kind", CLASSES)
def test_the_registry_selects_the_report_materializer(
    all_reports: dict[str, object], kind: str, tmp_path: Path
) -> None:
    materializers = pytest.importorskip("headrace.materializers")
    if not hasattr(materializers, "select"):
        pytest.skip("headrace.materializers has no registry yet")
    report = all_reports[kind]
    chosen = materializers.select(report)
    assert isinstance(chosen, CLASSES[kind])
    metadata = materializers.save(report, tmp_path / "artifact", chosen)
    assert metadata["type"] == f"headrace.data.reports.{type(report).__name__}"
    assert metadata["materializer"] == CLASSES[kind].name
    assert metadata["passed"] is report.passed  # type: ignore[attr-defined]
    loaded = materializers.load(tmp_path / "artifact", chosen.name, metadata["type"])
    assert loaded == report


def test_names_are_unique_and_stable() -> None:
    names = [cls.name for cls in CLASSES.values()]
    assert names == [
        "headrace.data.validation_report",
        "headrace.data.drift_report",
        "headrace.data.slice_report",
        "headrace.data.backtest_report",
        "headrace.data.diff_report",
    ]


def test_entry_points_match_the_registrations() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = pyproject["project"]["entry-points"]["headrace.materializers"]
    ours = {k: v for k, v in declared.items() if k.startswith("headrace.data.")}
    assert ours == hd.MATERIALIZERS
    for type_name, spec in ours.items():
        _, _, cls = spec.partition(":")
        assert getattr(_materializers, cls).report_type.__name__ == type_name.rsplit(".", 1)[1]


def test_wrong_values_and_damaged_files_are_materializer_errors(
    all_reports: dict[str, object], tmp_path: Path
) -> None:
    with pytest.raises(MaterializerError, match="saves DriftReport, not SliceReport"):
        _materializers.DriftReportMaterializer().save(all_reports["slices"], tmp_path)
    (tmp_path / "report.json").write_text("{not json")
    with pytest.raises(MaterializerError, match="cannot load"):
        _materializers.DriftReportMaterializer().load(tmp_path, "headrace.data.reports.DriftReport")
