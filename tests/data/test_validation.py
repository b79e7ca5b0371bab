"""validate and infer_schema: violations found in exactly the rows that were corrupted."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

import headrace.data as hd
from headrace.errors import ConfigError, HeadraceError, MissingExtraError


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 400
    return pd.DataFrame(
        {
            "age": rng.integers(18, 91, n),
            "income": rng.lognormal(10, 0.5, n),
            "city": rng.choice(["Lyon", "Oslo", "Porto"], n),
            "member": rng.choice([True, False], n),
            "signup": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D"),
            "rating": np.where(rng.random(n) < 0.1, np.nan, rng.uniform(1, 5, n)),
        }
    )


@pytest.fixture
def corrupted(reference: pd.DataFrame) -> pd.DataFrame:
    bad = reference.copy()
    bad.loc[[3, 17, 42], "age"] = -5
    bad.loc[[8, 42], "city"] = "Atlantis"
    bad.loc[99, "income"] = np.nan
    bad.loc[120, "income"] = 1e12
    return bad


def test_inferred_schema_accepts_its_reference(reference: pd.DataFrame) -> None:
    schema = hd.infer_schema(reference)
    report = hd.validate(reference, schema)
    assert report.passed and report.verdict == "passed"
    assert report.n_failing_rows == 0 and report.failing_rows == () and report.sample == ()
    assert schema.columns["rating"].nullable and not schema.columns["income"].nullable
    assert schema.columns["city"].checks[-1].name == "isin"
    assert not schema.coerce and schema.index is None


def test_violations_are_found_in_exactly_the_corrupted_rows(
    reference: pd.DataFrame, corrupted: pd.DataFrame
) -> None:
    report = hd.validate(corrupted, hd.infer_schema(reference))
    assert not report.passed and report.verdict == "failed"
    assert report.failing_rows == (3, 8, 17, 42, 99, 120)
    assert report.n_failing_rows == 6
    failed = {(c.column, c.check.split("(")[0]): c.failures for c in report.failed_checks}
    assert failed == {
        ("age", "greater_than_or_equal_to"): 3,
        ("city", "isin"): 2,
        ("income", "not_nullable"): 1,
        ("income", "less_than_or_equal_to"): 1,
    }
    assert sum(report.failure_counts.values()) == 7
    assert [row["index"] for row in report.sample] == [3, 8, 17, 42, 99]
    assert report.sample[0]["age"] == -5 and report.sample[1]["city"] == "Atlantis"
    assert report.sample[4]["income"] is None  # NaN becomes JSON null
    summary = report.summary()
    assert summary == {
        "passed": False,
        "rows": 400,
        "checks": len(report.checks),
        "failed_checks": 4,
        "failing_rows": 6,
        "failing_share": 6 / 400,
    }


def test_a_reference_frame_or_a_serialized_schema_can_stand_for_the_schema(
    reference: pd.DataFrame, corrupted: pd.DataFrame
) -> None:
    schema = hd.infer_schema(reference)
    expected = hd.validate(corrupted, schema).failing_rows
    assert hd.validate(corrupted, reference).failing_rows == expected
    assert hd.validate(corrupted, schema.to_json()).failing_rows == expected
    assert hd.validate(corrupted, schema.to_yaml()).failing_rows == expected
    import json

    assert hd.validate(corrupted, json.loads(schema.to_json())).failing_rows == expected
    with pytest.raises(ConfigError, match="schema must be"):
        hd.validate(corrupted, 42)


def test_a_dataframe_model_with_frame_wide_and_uniqueness_checks() -> None:
    class Orders(pa.DataFrameModel):
        order_id: int = pa.Field(unique=True)
        quantity: int = pa.Field(gt=0)
        shipped: float
        ordered: float

        @pa.dataframe_check
        def ships_after_ordering(cls, df: pd.DataFrame) -> pd.Series:
            return df["shipped"] >= df["ordered"]

    df = pd.DataFrame(
        {
            "order_id": [1, 2, 2, 4, 5],
            "quantity": [3, 0, 1, 1, 2],
            "shipped": [2.0, 3.0, 1.0, 5.0, 4.0],
            "ordered": [1.0, 1.0, 2.0, 1.0, 6.0],
        },
        index=["a", "b", "c", "d", "e"],
    )
    report = hd.validate(df, Orders)
    counts = {(c.column, c.check): c.failures for c in report.checks}
    assert counts[("order_id", "field_uniqueness")] == 2
    assert counts[("quantity", "greater_than(0)")] == 1
    assert counts[(None, "ships_after_ordering")] == 2  # rows c and e, counted once each
    assert report.failing_rows == ("b", "c", "e")
    assert report.schema_name == "Orders"


def test_schema_level_failures_name_the_column(reference: pd.DataFrame) -> None:
    schema = hd.infer_schema(reference)
    changed = reference.drop(columns=["member"]).assign(age=reference["age"].astype("float64"))
    report = hd.validate(changed, schema)
    failed = {(c.column, c.check): c.failures for c in report.failed_checks}
    assert failed == {("member", "column_in_dataframe"): 1, ("age", "dtype('int64')"): 1}
    assert report.n_failing_rows == 0
    with pytest.raises(hd.ValidationFailedError, match="member: column_in_dataframe") as raised:
        report.raise_if_failed()
    assert isinstance(raised.value, HeadraceError)
    assert raised.value.report is report


def test_failing_rows_are_capped_but_counted(reference: pd.DataFrame) -> None:
    bad = reference.assign(age=-1)
    report = hd.validate(bad, hd.infer_schema(reference), max_failing_rows=10, sample=2)
    assert report.n_failing_rows == 400
    assert report.failing_rows == tuple(range(10))
    assert len(report.sample) == 2


def test_bad_inputs(reference: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(hd.EmptyFrameError, match="frame has no rows"):
        hd.validate(reference.iloc[:0], hd.infer_schema(reference))
    with pytest.raises(hd.NotAFrameError):
        hd.validate({"age": [1]}, hd.infer_schema(reference))
    with pytest.raises(hd.EmptyFrameError, match="reference"):
        hd.infer_schema(reference.iloc[:0])
    monkeypatch.setitem(sys.modules, "pandera.pandas", None)
    with pytest.raises(MissingExtraError, match=r"headrace\[data\]") as missing:
        hd.validate(reference, reference)
    assert missing.value.package == "pandera" and missing.value.extra == "data"
