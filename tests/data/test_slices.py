"""slice_metrics: per-slice metrics and gaps equal to values computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import headrace.data as hd
from headrace.errors import ConfigError

# Slice A: TP 3, FN 1, FP 1, TN 5.   Slice B: TP 2, FN 3, FP 2, TN 3.   Slice C: TP 2, FP 2.
Y_TRUE = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0]
Y_PRED = [1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1]
GROUP = ["A"] * 10 + ["B"] * 10 + ["C"] * 4


def test_metrics_and_gaps_equal_hand_computed_values() -> None:
    report = hd.slice_metrics(Y_TRUE, Y_PRED, by=GROUP, min_size=5)
    a, b, c = report["A"], report["B"], report["C"]
    assert (a.count, b.count, c.count) == (10, 10, 4)
    assert a.metrics == pytest.approx(
        {
            "accuracy": 0.8,
            "precision": 0.75,
            "recall": 0.75,
            "f1": 0.75,
            "positive_rate": 0.4,
            "count": 10,
        }
    )
    assert b.metrics == pytest.approx(
        {
            "accuracy": 0.5,
            "precision": 0.5,
            "recall": 0.4,
            "f1": 2 * 0.5 * 0.4 / 0.9,
            "positive_rate": 0.4,
            "count": 10,
        }
    )
    assert c.metrics["recall"] == 1.0 and c.metrics["positive_rate"] == 1.0
    assert report.demographic_parity_difference == pytest.approx(1.0 - 0.4)
    assert report.equal_opportunity_difference == pytest.approx(1.0 - 0.4)
    assert report.gaps == pytest.approx(
        {
            "accuracy": 0.3,
            "precision": 0.25,
            "recall": 0.6,
            "f1": 0.75 - 0.8 / 1.8,
            "positive_rate": 0.6,
        }
    )
    assert report.overall == pytest.approx(
        {
            "accuracy": 15 / 24,
            "precision": 7 / 12,
            "recall": 7 / 11,
            "f1": 14 / 23,
            "positive_rate": 0.5,
            "count": 24,
        }
    )
    assert report.small_slices == ("C",) and c.small and not a.small
    assert not report.passed and report.verdict == "gap exceeded"


def test_two_slices_with_equal_selection_rates() -> None:
    report = hd.slice_metrics(Y_TRUE[:20], Y_PRED[:20], by=GROUP[:20], max_gap=0.3)
    assert report.demographic_parity_difference == pytest.approx(0.0)
    assert report.equal_opportunity_difference == pytest.approx(0.35)
    assert not report.passed
    assert hd.slice_metrics(Y_TRUE[:20], Y_PRED[:20], by=GROUP[:20], max_gap=None).passed
    assert report.small_slices == ("A", "B")  # both below the default min_size of 30


def test_columns_of_a_frame_and_intersectional_slices() -> None:
    df = pd.DataFrame(
        {
            "label": Y_TRUE[:20],
            "prediction": Y_PRED[:20],
            "group": GROUP[:20],
            "region": ["north", "south"] * 10,
        }
    )
    single = hd.slice_metrics("label", "prediction", by="group", data=df, metrics=["recall"])
    assert single.by == ("group",) and single.metrics == ("recall",)
    assert single["B"].metrics == {"recall": pytest.approx(0.4)}
    assert single.equal_opportunity_difference == pytest.approx(0.35)
    both = hd.slice_metrics("label", "prediction", by=["group", "region"], data=df)
    assert [s.name for s in both.slices] == [
        "group=A, region=north",
        "group=A, region=south",
        "group=B, region=north",
        "group=B, region=south",
    ]
    assert both.slices[0].key == {"group": "A", "region": "north"}
    assert sum(s.count for s in both.slices) == 20


def test_string_labels_custom_metrics_and_undefined_rates() -> None:
    y_true = np.array(["no", "no", "no", "yes", "yes", "no"])
    y_pred = np.array(["no", "yes", "no", "yes", "no", "no"])
    segment = pd.Series(["x", "x", "x", "y", "y", "y"], name="segment")

    def errors(t: np.ndarray, p: np.ndarray) -> float:
        return float((t != p).sum())

    report = hd.slice_metrics(
        y_true, y_pred, by=segment, metrics=["recall", "positive_rate", errors], pos_label="yes"
    )
    assert report.by == ("segment",) and report.metrics == ("recall", "positive_rate", "errors")
    assert report["x"].metrics == {
        "recall": None,
        "positive_rate": pytest.approx(1 / 3),
        "errors": 1.0,
    }  # no positives in x: recall is undefined
    assert report["y"].metrics["recall"] == 0.5
    assert report.equal_opportunity_difference == 0.0  # only y has a recall
    assert report.pos_label == "yes"


def test_missing_slice_values_form_their_own_slice() -> None:
    by = pd.Series(["a", "a", None, None, "b", "b"])
    report = hd.slice_metrics([1, 0, 1, 0, 1, 0], [1, 0, 0, 0, 1, 1], by=by)
    assert {s.name for s in report.slices} == {"a", "b", "(missing)"}


def test_bad_inputs() -> None:
    with pytest.raises(hd.SliceTooSmallError, match="'C' has 1 member") as small:
        hd.slice_metrics([1, 0, 1], [1, 0, 0], by=["A", "A", "C"])
    assert isinstance(small.value, ValueError) and small.value.slice == "C"
    with pytest.raises(hd.LengthMismatchError, match="y_true has 3, y_pred has 2, by has 3"):
        hd.slice_metrics([1, 0, 1], [1, 0], by=["A", "A", "B"])
    with pytest.raises(hd.EmptyFrameError):
        hd.slice_metrics([], [], by=[])
    with pytest.raises(ConfigError, match="unknown metric 'auc'"):
        hd.slice_metrics(Y_TRUE, Y_PRED, by=GROUP, metrics=["auc"])
    with pytest.raises(ConfigError, match="data="):
        hd.slice_metrics(Y_TRUE, Y_PRED, by="group")
    with pytest.raises(hd.ColumnNotFoundError, match="'grp'"):
        hd.slice_metrics("y", "p", by="grp", data=pd.DataFrame({"y": [1], "p": [1]}))
