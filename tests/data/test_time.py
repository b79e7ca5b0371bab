"""time_split and backtest on a daily series for 2023-2024 (731 days, leap year 2024)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import headrace.data as hd
from headrace.errors import ConfigError, HeadraceError

from .frames import daily

QUARTER_DAYS = [90, 91, 92, 92, 91, 91, 92, 92]  # 2023 Q1..Q4, 2024 Q1..Q4
QUARTER_STARTS = [
    "2023-01-01",
    "2023-04-01",
    "2023-07-01",
    "2023-10-01",
    "2024-01-01",
    "2024-04-01",
    "2024-07-01",
    "2024-10-01",
]


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return daily()


# --------------------------------------------------------------------------- time_split


@pytest.mark.parametrize(
    ("kwargs", "train_rows", "first_test_day"),
    [
        ({"test_from": "2024-10-01"}, 639, "2024-10-01"),
        ({"train_until": "2024-10-01"}, 639, "2024-10-01"),
        ({"test_from": pd.Timestamp("2024-07-01")}, 547, "2024-07-01"),
        ({"test_from": "last quarter"}, 639, "2024-10-01"),
        ({"test_from": "last 2 quarters"}, 547, "2024-07-01"),
        ({"test_from": "last 2 months"}, 670, "2024-11-01"),
        ({"test_from": "last year"}, 365, "2024-01-01"),
        ({"test_from": "last 10 days"}, 721, "2024-12-22"),
        ({"test_from": "last week"}, 729, "2024-12-30"),  # the week of Monday 30 December
        ({"train_until": "last quarter"}, 639, "2024-10-01"),
        ({"train_until": 0.8}, 585, "2024-08-08"),
        ({"test_from": "last 20%"}, 585, "2024-08-08"),
        ({"train_until": "first 80%"}, 585, "2024-08-08"),
    ],
)
def test_time_split_boundaries_are_exact(
    df: pd.DataFrame, kwargs: dict[str, object], train_rows: int, first_test_day: str
) -> None:
    train, test = hd.time_split(df, on="date", **kwargs)  # type: ignore[arg-type]
    assert len(train) == train_rows
    assert len(train) + len(test) == len(df)
    assert test["date"].min() == pd.Timestamp(first_test_day)
    assert train["date"].max() == pd.Timestamp(first_test_day) - pd.Timedelta(days=1)


def test_time_split_with_both_boundaries_leaves_an_embargo_gap(df: pd.DataFrame) -> None:
    split = hd.time_split(df, on="date", train_until="2024-01-01", test_from="2024-02-01")
    assert isinstance(split, hd.Split)
    assert len(split.train) == 365
    assert len(split.test) == 335
    assert split.train["date"].max() == pd.Timestamp("2023-12-31")
    assert split.test["date"].min() == pd.Timestamp("2024-02-01")


def test_time_split_keeps_order_and_index_and_drops_missing_times(df: pd.DataFrame) -> None:
    shuffled = df.sample(frac=1.0, random_state=3)
    shuffled.loc[shuffled.index[:5], "date"] = pd.NaT
    train, test = hd.time_split(shuffled, on="date", test_from="2024-10-01")
    assert len(train) + len(test) == len(df) - 5
    assert list(train.index) == [i for i in shuffled.index[5:] if i in set(train.index)]
    assert train["date"].notna().all() and test["date"].notna().all()


def test_time_split_on_a_timezone_aware_column(df: pd.DataFrame) -> None:
    aware = df.assign(date=df["date"].dt.tz_localize("Europe/Paris"))
    _, test = hd.time_split(aware, on="date", test_from="2024-10-01")
    assert len(test) == 92
    _, test = hd.time_split(aware, on="date", test_from="last quarter")
    assert len(test) == 92
    with pytest.raises(ConfigError, match="time zone"):
        hd.time_split(df, on="date", test_from=pd.Timestamp("2024-10-01", tz="UTC"))


def test_time_split_bad_inputs_name_the_problem(df: pd.DataFrame) -> None:
    with pytest.raises(hd.ColumnNotFoundError, match="'when'") as missing:
        hd.time_split(df, on="when", test_from="2024-01-01")
    assert isinstance(missing.value, KeyError) and isinstance(missing.value, HeadraceError)
    with pytest.raises(hd.EmptyFrameError):
        hd.time_split(df.iloc[:0], on="date", test_from="2024-01-01")
    with pytest.raises(hd.NotDatetimeError, match="'x'") as not_time:
        hd.time_split(df, on="x", test_from="2024-01-01")
    assert isinstance(not_time.value, TypeError)
    with pytest.raises(hd.NotDatetimeError, match="to_datetime"):
        hd.time_split(df.assign(date=df["date"].astype(str)), on="date", test_from="2024-01-01")
    with pytest.raises(hd.EmptyWindowError, match="test side"):
        hd.time_split(df, on="date", test_from="2030-01-01")
    with pytest.raises(hd.EmptyWindowError, match="train side"):
        hd.time_split(df, on="date", train_until="2020-01-01")
    with pytest.raises(ConfigError, match="overlap"):
        hd.time_split(df, on="date", train_until="2024-06-01", test_from="2024-01-01")
    for bad in ("next quarter", "last 0 days", "last 150%", 1.5, 3, True, None):
        with pytest.raises(ConfigError):
            hd.time_split(df, on="date", test_from=bad)


def test_not_a_frame_is_rejected() -> None:
    with pytest.raises(hd.NotAFrameError, match="DataFrame"):
        hd.time_split([1, 2, 3], on="date", test_from="2024-01-01")


# --------------------------------------------------------------------------- backtest


def mean_model(train: pd.DataFrame) -> float:
    return float(train["y"].mean())


def mae(model: float, test: pd.DataFrame) -> dict[str, float]:
    return {"mae": float((test["y"] - model).abs().mean()), "rows": float(len(test))}


def test_rolling_backtest_has_one_fold_per_following_quarter(df: pd.DataFrame) -> None:
    report = hd.backtest(df, on="date", window="QS", fit=mean_model, score=mae)
    assert isinstance(report, hd.BacktestReport)
    assert len(report.folds) == 7
    assert [f.train_start for f in report.folds] == QUARTER_STARTS[:7]
    assert [f.test_start for f in report.folds] == QUARTER_STARTS[1:]
    assert [f.test_end for f in report.folds] == [*QUARTER_STARTS[2:], "2025-01-01"]
    assert [f.n_train for f in report.folds] == QUARTER_DAYS[:7]
    assert [f.n_test for f in report.folds] == QUARTER_DAYS[1:]
    assert [f.metrics["rows"] for f in report.folds] == QUARTER_DAYS[1:]
    assert report.metric_names == ("mae", "rows")
    assert report.passed and report.verdict == "completed"


def test_expanding_backtest_grows_the_training_window(df: pd.DataFrame) -> None:
    report = hd.backtest(df, on="date", window="QS", fit=mean_model, score=mae, mode="expanding")
    assert [f.n_train for f in report.folds] == list(np.cumsum(QUARTER_DAYS)[:7])
    assert {f.train_start for f in report.folds} == {"2023-01-01"}
    assert [f.n_test for f in report.folds] == QUARTER_DAYS[1:]


def test_rolling_backtest_with_three_training_quarters(df: pd.DataFrame) -> None:
    report = hd.backtest(df, "date", "QS", fit=mean_model, score=mae, train_windows=3)
    assert [f.n_train for f in report.folds] == [273, 275, 275, 274, 274]
    assert [f.n_test for f in report.folds] == QUARTER_DAYS[3:]
    assert report.folds[0].train_start == "2023-01-01" and report.folds[0].train_end == "2023-10-01"
    trained_on = {}

    def remember(train: pd.DataFrame) -> float:
        trained_on[len(trained_on)] = (train["date"].min(), train["date"].max())
        return 0.0

    hd.backtest(df, "date", "QS", fit=remember, score=lambda m, t: 1.0, train_windows=3)
    assert trained_on[4] == (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-09-30"))


def test_backtest_starts_at_the_period_holding_the_first_row(df: pd.DataFrame) -> None:
    late = df[df["date"] >= "2023-02-15"]
    report = hd.backtest(late, "date", "QS", fit=mean_model, score=mae)
    assert report.folds[0].train_start == "2023-01-01"
    assert report.folds[0].n_train == 90 - 45


def test_backtest_with_explicit_windows(df: pd.DataFrame) -> None:
    edges = ["2023-01-01", "2023-07-01", "2024-01-01", "2024-07-01", "2025-01-01"]
    report = hd.backtest(df, "date", edges, fit=mean_model, score=mae)
    assert report.window == "explicit"
    assert [f.n_train for f in report.folds] == [181, 184, 182]
    assert [f.n_test for f in report.folds] == [184, 182, 184]
    pairs = [
        ("2023-01-01", "2023-02-01"),
        ("2023-06-01", "2023-07-01"),
        ("2024-01-01", "2024-01-11"),
    ]
    report = hd.backtest(df, "date", pairs, fit=mean_model, score=lambda m, t: float(len(t)))
    assert [(f.n_train, f.n_test) for f in report.folds] == [(31, 30), (30, 10)]
    assert [f.metrics["score"] for f in report.folds] == [30.0, 10.0]


def test_backtest_threshold_and_summary(df: pd.DataFrame) -> None:
    drifting = df.copy()
    drifting.loc[drifting["date"] >= "2024-07-01", "y"] += 5.0
    rolling = hd.backtest(
        drifting, "date", "QS", fit=mean_model, score=mae, threshold=3.0, higher_is_better=False
    )
    assert rolling.failing_folds == (5,)  # the next quarter's model has seen the shift
    report = hd.backtest(
        drifting,
        "date",
        "QS",
        fit=mean_model,
        score=mae,
        mode="expanding",
        threshold=3.0,
        higher_is_better=False,
    )
    assert report.failing_folds == (5, 6)
    assert not report.passed
    summary = report.summary()
    assert summary["folds"] == 7 and summary["metric"] == "mae"
    assert summary["last"] > summary["first"]
    assert summary["trend_per_fold"] > 0
    assert summary["change"] == pytest.approx(summary["last"] - summary["first"])


def test_backtest_bad_inputs(df: pd.DataFrame) -> None:
    holey = df[(df["date"] < "2023-07-01") | (df["date"] >= "2023-10-01")]
    with pytest.raises(hd.EmptyWindowError, match=r"\[2023-07-01, 2023-10-01\)") as empty:
        hd.backtest(holey, "date", "QS", fit=mean_model, score=mae)
    assert isinstance(empty.value, ValueError)
    with pytest.raises(hd.NotDatetimeError, match="'x'"):
        hd.backtest(df, "x", "QS", fit=mean_model, score=mae)
    with pytest.raises(hd.ColumnNotFoundError, match="'day'"):
        hd.backtest(df, "day", "QS", fit=mean_model, score=mae)
    with pytest.raises(ConfigError, match="mode"):
        hd.backtest(df, "date", "QS", fit=mean_model, score=mae, mode="sliding")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="more than 8"):
        hd.backtest(df, "date", "QS", fit=mean_model, score=mae, train_windows=8)
    with pytest.raises(ConfigError, match="frequency"):
        hd.backtest(df, "date", "every quarter", fit=mean_model, score=mae)
    with pytest.raises(ConfigError, match="does not end after"):
        hd.backtest(
            df,
            "date",
            [("2024-01-01", "2023-01-01"), ("2024-02-01", "2024-03-01")],
            fit=mean_model,
            score=mae,
        )
    with pytest.raises(ConfigError, match="number"):
        hd.backtest(df, "date", "QS", fit=mean_model, score=lambda m, t: "good")


def test_an_error_in_fit_names_the_fold(df: pd.DataFrame) -> None:
    def fragile(train: pd.DataFrame) -> float:
        if train["date"].min() >= pd.Timestamp("2024-01-01"):
            raise RuntimeError("no data for 2024")
        return 0.0

    with pytest.raises(RuntimeError, match="no data") as raised:
        hd.backtest(df, "date", "QS", fit=fragile, score=mae)
    assert any("fold 4" in note and "2024-04-01" in note for note in raised.value.__notes__)


def test_overlapping_explicit_windows_are_refused(df: pd.DataFrame) -> None:
    pairs = [("2023-01-01", "2023-03-01"), ("2023-02-01", "2023-04-01")]
    with pytest.raises(ConfigError, match=r"windows \[2023-01-01, 2023-03-01\) and .* overlap"):
        hd.backtest(df, "date", pairs, fit=mean_model, score=mae)
