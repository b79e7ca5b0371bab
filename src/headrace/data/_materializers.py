"""Materializers for the toolkit's reports: report.json, summary.html and one PNG per chart.

The metadata recorded with each artifact version is the report's verdict and headline
numbers, so a run listing can show them without loading anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from headrace.errors import MaterializerError, MissingExtraError

from .reports import BacktestReport, DiffReport, DriftReport, SliceReport, ValidationReport


class _ReportMaterializer:
    name: ClassVar[str]
    report_type: ClassVar[Any]

    def save(self, obj: Any, folder: Path) -> dict[str, Any]:
        if not isinstance(obj, self.report_type):
            raise MaterializerError(
                f"{type(self).__name__} saves {self.report_type.__name__}, not {type(obj).__name__}"
            )
        folder = Path(folder)
        text = json.dumps(obj.to_dict(), indent=2, sort_keys=True, allow_nan=False)
        (folder / "report.json").write_text(text + "\n", encoding="utf-8")
        (folder / "summary.html").write_text(obj.to_html(), encoding="utf-8")
        try:
            plots = obj.plots()
        except MissingExtraError:  # the report itself is complete without its charts
            plots = {}
        for plot_name, png in plots.items():
            (folder / f"{plot_name}.png").write_bytes(png)
        return {
            "verdict": obj.verdict,
            **obj.summary(),
            "plots": sorted(f"{plot_name}.png" for plot_name in plots),
        }

    def load(self, folder: Path, type_name: str) -> Any:
        path = Path(folder) / "report.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return self.report_type.from_dict(data)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MaterializerError(f"cannot load {type_name} from {path}: {exc}") from exc


class ValidationReportMaterializer(_ReportMaterializer):
    name: ClassVar[str] = "headrace.data.validation_report"
    report_type = ValidationReport


class DriftReportMaterializer(_ReportMaterializer):
    name: ClassVar[str] = "headrace.data.drift_report"
    report_type = DriftReport


class SliceReportMaterializer(_ReportMaterializer):
    name: ClassVar[str] = "headrace.data.slice_report"
    report_type = SliceReport


class BacktestReportMaterializer(_ReportMaterializer):
    name: ClassVar[str] = "headrace.data.backtest_report"
    report_type = BacktestReport


class DiffReportMaterializer(_ReportMaterializer):
    name: ClassVar[str] = "headrace.data.diff_report"
    report_type = DiffReport
