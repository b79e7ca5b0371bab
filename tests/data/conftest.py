"""Fixtures of the data toolkit's tests: generated frames with known answers."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "evidently: compares with Evidently; runs only when bench/.venvs/evidently exists "
        "(python bench/evidently/evidently_drift.py --setup)",
    )


@pytest.fixture(scope="session")
def all_reports() -> dict[str, object]:
    """One report of each type, built on small generated data; user strings need escaping."""
    import pandas as pd

    import headrace.data as hd

    from .frames import daily, drift_pair

    reference, current = drift_pair(seed=0, n=600, m=600)
    hostile = {"num_shift": "<b>shift</b>", "cat_same": 'cat "&" <i>'}
    reference, current = reference.rename(columns=hostile), current.rename(columns=hostile)
    bad = current.copy()
    bad.loc[[2, 5], "<b>shift</b>"] = 1e9
    series = daily()
    return {
        "validation": hd.validate(bad, hd.infer_schema(reference)),
        "drift": hd.drift(reference, current),
        "slices": hd.slice_metrics(
            (series["y"] > 0).astype(int),
            (series["x"] > 0).astype(int),
            by=series["segment"].where(series.index % 7 != 0, "<script>alert(1)</script>"),
        ),
        "backtest": hd.backtest(
            series,
            "date",
            "QS",
            fit=lambda train: float(train["y"].mean()),
            score=lambda model, test: {"mae": float((test["y"] - model).abs().mean())},
            threshold=2.0,
            higher_is_better=False,
        ),
        "diff": hd.diff(
            reference, pd.concat([current, current.iloc[:5]]).drop(columns=["int_few"])
        ),
    }
