"""diff: schema changes, row counts, per-column statistics and drift between two versions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import headrace.data as hd

from .frames import SHIFTED, drift_pair


@pytest.fixture(scope="module")
def versions() -> tuple[pd.DataFrame, pd.DataFrame]:
    a, b = drift_pair(seed=0, n=600, m=600)
    b = b.drop(columns=["int_many"]).assign(
        cat_same=b["cat_same"].astype("category"), added=np.arange(600)
    )
    return a, b.iloc[:550]


def test_schema_rows_statistics_and_drift(versions: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    a, b = versions
    report = hd.diff(a, b, names=("v1", "v2"))
    assert (report.rows_a, report.rows_b) == (600, 550)
    assert report.added == ("added",) and report.removed == ("int_many",)
    assert report.dtype_changes == (("cat_same", "str", "category"),)
    assert report.schema_changed and not report.identical
    assert not report.passed and report.verdict == "changed"
    assert report.drift is not None
    assert set(report.drifted_columns) == set(SHIFTED)
    assert "int_many" not in {c.column for c in report.drift.columns}
    num = report["num_shift"]
    assert num.stats_a is not None and num.stats_b is not None
    assert num.stats_a["count"] == 600 and num.stats_b["count"] == 550
    assert num.stats_a["mean"] == pytest.approx(a["num_shift"].mean())
    assert num.stats_b["max"] == pytest.approx(b["num_shift"].max())
    assert report["int_many"].stats_b is None and report["added"].stats_a is None
    cat = report["cat_shift"].stats_b
    assert cat is not None and cat["top"] == "a" and cat["unique"] == 4
    summary = report.summary()
    assert summary["row_delta"] == -50
    assert summary["removed_columns"] == ["int_many"]
    assert summary["dtype_changes"] == ["cat_same: str -> category"]


def test_identical_and_compatible_versions(versions: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    a, _ = versions
    same = hd.diff(a, a.copy())
    assert same.identical and same.passed and same.verdict == "identical"
    assert not same.schema_changed and same.drifted_columns == ()
    grown = hd.diff(a, pd.concat([a, a.iloc[:10]], ignore_index=True).assign(extra=1))
    assert grown.added == ("extra",) and grown.passed and grown.verdict == "compatible"


def test_empty_versions_skip_drift() -> None:
    a = pd.DataFrame({"x": [1.0, 2.0], "when": pd.to_datetime(["2024-01-01", "2024-02-01"])})
    report = hd.diff(a, a.iloc[:0])
    assert report.rows_b == 0 and report.drift is None
    assert report["x"].stats_b == {
        "count": 0,
        "nulls": 0,
        "mean": None,
        "std": None,
        "min": None,
        "max": None,
        "unique": 0,
    }
    assert report["when"].stats_a == {
        "count": 2,
        "nulls": 0,
        "min": "2024-01-01T00:00:00",
        "max": "2024-02-01T00:00:00",
        "unique": 2,
    }
    assert hd.diff(a, a, drift=False).drift is None
    with pytest.raises(hd.NotAFrameError, match="b must be"):
        hd.diff(a, [1, 2])
