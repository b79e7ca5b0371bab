"""drift: injected drift is found in exactly the shifted columns, statistics match scipy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import headrace.data as hd
from headrace.data import _drift
from headrace.errors import ConfigError, MissingExtraError

from .frames import SHIFTED, STEADY, drift_pair


@pytest.fixture(scope="module")
def small() -> tuple[pd.DataFrame, pd.DataFrame]:
    return drift_pair(seed=0, n=600, m=600)


@pytest.fixture(scope="module")
def large() -> tuple[pd.DataFrame, pd.DataFrame]:
    return drift_pair(seed=1, n=5000, m=4000)


@pytest.mark.parametrize("method", ["auto", "test"])
def test_small_samples_drift_in_exactly_the_shifted_columns(
    small: tuple[pd.DataFrame, pd.DataFrame], method: str
) -> None:
    report = hd.drift(*small, method=method)  # type: ignore[arg-type]
    assert set(report.drifted_columns) == set(SHIFTED)
    assert [c.column for c in report.columns] == list(small[0].columns)
    assert report.share_drifted == pytest.approx(5 / 11)
    assert not report.dataset_drift and report.passed and report.verdict == "no drift"


def test_auto_uses_evidently_s_choice_of_test(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    report = hd.drift(*small)
    methods = {c.column: (c.kind, c.method) for c in report.columns}
    assert methods == {
        "num_same": ("numeric", "ks"),
        "num_shift": ("numeric", "ks"),
        "num_scale": ("numeric", "ks"),
        "num_exp": ("numeric", "ks"),
        "int_many": ("numeric", "ks"),
        "cat_same": ("categorical", "chi2_vs_reference"),
        "cat_shift": ("categorical", "chi2_vs_reference"),
        "bin_same": ("categorical", "z"),
        "bin_shift": ("categorical", "z"),
        "int_few": ("categorical", "chi2_vs_reference"),  # integers with <= 10 values
        "few_shift": ("numeric", "chi2_vs_reference"),  # floats with <= 5 values
    }


@pytest.mark.parametrize("method", ["auto", "psi"])
def test_large_samples_drift_in_exactly_the_shifted_columns(
    large: tuple[pd.DataFrame, pd.DataFrame], method: str
) -> None:
    report = hd.drift(*large, method=method)  # type: ignore[arg-type]
    assert set(report.drifted_columns) == set(SHIFTED)
    if method == "auto":
        assert {c.method for c in report.columns} == {"wasserstein", "jensenshannon"}
        assert {c.threshold for c in report.columns} == {0.1}
    for column in STEADY:
        assert report[column].psi < 0.05
    for column in SHIFTED:
        assert report[column].psi > 0.2


def test_drift_share_decides_the_overall_verdict(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    report = hd.drift(*small, drift_share=0.4)
    assert report.dataset_drift and not report.passed
    shifted_only = hd.drift(*small, columns=list(SHIFTED))
    assert shifted_only.dataset_drift and shifted_only.share_drifted == 1.0
    summary = shifted_only.summary()
    assert summary["drifted_columns"] == 5 and summary["drifted"] == list(SHIFTED)


def test_statistics_match_scipy(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = small
    report = hd.drift(reference, current)
    ks = stats.ks_2samp(reference["num_shift"], current["num_shift"])
    assert report["num_shift"].statistic == pytest.approx(ks.statistic)
    assert report["num_shift"].p_value == pytest.approx(ks.pvalue)
    assert report["num_shift"].score == report["num_shift"].p_value
    table = pd.crosstab(
        np.r_[np.zeros(600), np.ones(600)],
        np.r_[reference["cat_shift"].to_numpy(), current["cat_shift"].to_numpy()],
    )
    chi2 = stats.chi2_contingency(table.to_numpy(), correction=False)
    assert report["cat_shift"].p_value == pytest.approx(chi2.pvalue)
    ref_counts = reference["cat_shift"].value_counts().sort_index()
    cur_counts = current["cat_shift"].value_counts().sort_index()
    fit = stats.chisquare(cur_counts, ref_counts * len(current) / len(reference))
    assert report["cat_shift"].score == pytest.approx(fit.pvalue)


def test_large_sample_ks_and_wasserstein_match_scipy() -> None:
    rng = np.random.default_rng(5)
    reference = pd.DataFrame({"x": rng.normal(size=30_000)})
    current = pd.DataFrame({"x": np.round(rng.normal(0.05, size=20_000), 2)})  # with ties
    report = hd.drift(reference, current)
    ks = stats.ks_2samp(reference["x"], current["x"])
    assert report["x"].statistic == pytest.approx(ks.statistic, abs=1e-12)
    assert report["x"].p_value == pytest.approx(ks.pvalue, rel=1e-9)
    wasserstein = stats.wasserstein_distance(reference["x"], current["x"]) / reference["x"].std(
        ddof=0
    )
    assert report["x"].score == pytest.approx(wasserstein, rel=1e-9)


def test_psi_by_hand() -> None:
    reference = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 50, "x": np.arange(100.0)})
    current = pd.DataFrame({"c": ["a"] * 80 + ["b"] * 20, "x": np.full(100, 99.0)})
    report = hd.drift(reference, current, method="psi")
    expected = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5)
    assert report["c"].psi == pytest.approx(expected)
    # Every current value falls in the reference's top decile; empty bins count as 0.0001.
    top = 9 * (1e-4 - 0.1) * math.log(1e-4 / 0.1) + (1.0 - 0.1) * math.log(1.0 / 0.1)
    assert report["x"].psi == pytest.approx(top)
    assert report["c"].drifted and report["x"].drifted


def test_a_value_the_reference_never_had(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = small
    report = hd.drift(reference, current.assign(cat_same="z"))
    assert report["cat_same"].drifted
    assert report["cat_same"].score == 0.0


def test_missing_and_infinite_values_are_dropped() -> None:
    reference = pd.DataFrame(
        {"x": [np.nan, np.inf, *range(50)], "c": [None, *["a", "b"] * 25, "a"]}
    )
    current = pd.DataFrame({"x": [*range(50), -np.inf], "c": ["a", "b"] * 25 + [None]})
    report = hd.drift(reference, current, method="test")
    assert (report["x"].n_reference, report["x"].n_current) == (50, 50)
    assert (report["c"].n_reference, report["c"].n_current) == (51, 50)
    assert report["x"].p_value == pytest.approx(1.0)
    assert not report.drifted_columns


def test_kinds_dates_and_forced_categories() -> None:
    frame = pd.DataFrame(
        {
            "when": pd.date_range("2024-01-01", periods=60),
            "code": np.arange(60) % 12,
            "flag": [True, False] * 30,
        }
    )
    report = hd.drift(frame, frame)
    assert report.skipped == ("when",)
    assert {c.column: c.kind for c in report.columns} == {"code": "numeric", "flag": "categorical"}
    forced = hd.drift(frame, frame, categorical=["code"])
    assert forced["code"].kind == "categorical"
    with pytest.raises(hd.ColumnTypeError, match="'when'"):
        hd.drift(frame, frame, columns=["when"])


def test_threads_give_the_same_report(
    small: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    sequential = hd.drift(*small)
    monkeypatch.setattr(_drift, "_PARALLEL_ROWS", 0)
    assert hd.drift(*small) == sequential


def test_bad_inputs(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = small
    with pytest.raises(hd.ColumnNotFoundError, match="'num_same' is not in the current"):
        hd.drift(reference, current.drop(columns=["num_same"]))
    with pytest.raises(hd.ColumnNotFoundError, match="'nope' is not in the reference"):
        hd.drift(reference, current, columns=["nope"])
    with pytest.raises(hd.ColumnNotFoundError, match="'nope'"):
        hd.drift(reference, current, categorical=["nope"])
    with pytest.raises(hd.EmptyFrameError, match="current has no rows"):
        hd.drift(reference, current.iloc[:0])
    with pytest.raises(hd.EmptyFrameError, match="column 'num_same' of the reference"):
        hd.drift(reference.assign(num_same=np.nan), current)
    with pytest.raises(hd.NotAFrameError):
        hd.drift(reference, current.to_numpy())
    for options in (
        {"method": "ks"},
        {"flavor": "alibi"},
        {"threshold": 5.0},
        {"drift_share": 0.0},
        {"psi_threshold": -1.0},
    ):
        with pytest.raises(ConfigError):
            hd.drift(reference, current, **options)  # type: ignore[arg-type]
    with pytest.raises(hd.DataError):
        hd.drift(reference, current)["nope"]


def test_evidently_flavor_needs_its_extra(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    try:
        import evidently  # noqa: F401
    except ImportError:
        pass
    else:  # pragma: no cover - only in the Evidently environment
        pytest.skip("evidently is installed here")
    with pytest.raises(MissingExtraError, match=r"headrace\[evidently\]"):
        hd.drift(*small, flavor="evidently")


def test_evidently_flavor_refuses_options_it_would_ignore(
    small: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    with pytest.raises(ConfigError, match="method, threshold apply to flavor='scipy' only"):
        hd.drift(*small, threshold=0.01, method="test", flavor="evidently")
