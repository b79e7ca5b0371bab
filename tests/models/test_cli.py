"""``headrace models ...`` in a subprocess, as a user runs it."""

from __future__ import annotations

from pathlib import Path

from .helpers import assert_one_line_error, headrace


def test_list_show_promote_history(trained: Path) -> None:
    listed = headrace("models", "list", "--json", home=trained)
    assert listed.code == 0, str(listed)
    assert listed.json() == [
        {
            "name": "churn",
            "description": "Which customers are about to leave",
            "latest_version": 2,
            "aliases": {},
        }
    ]
    table = headrace("models", "list", home=trained)
    assert "churn" in table.stdout and "LATEST" in table.stdout
    versions = headrace("models", "list", "churn", "--json", home=trained).json()
    assert [v["version"] for v in versions] == [2, 1]

    promoted = headrace(
        "models",
        "promote",
        "churn@1",
        "--to",
        "production",
        "--require",
        "accuracy >= 0.5",
        "--require",
        "p99_ms <= 1000",
        "--reason",
        "first release",
        "--json",
        home=trained,
    )
    assert promoted.code == 0, str(promoted)
    assert promoted.json()["version"] == 1 and promoted.json()["actor"] == "tester"
    shown = headrace("models", "show", "churn@production", "--json", home=trained).json()
    assert shown["version"] == 1 and shown["aliases"] == ["production"]
    assert shown["artifacts"]["train"]["role"] == "data"
    text = headrace("models", "show", "churn@production", home=trained).stdout
    assert "churn v1" in text and "latency" in text and "tenure_months:number" in text

    again = headrace("models", "promote", "churn@2", "--to", "production", home=trained)
    assert again.code == 0 and "churn v2 is now production (was v1)" in again.stdout
    history = headrace("models", "history", "churn", "--json", home=trained).json()
    assert [(h["version"], h["previous_version"], h["reason"]) for h in history] == [
        (2, 1, None),
        (1, None, "first release"),
    ]
    assert "first release" in headrace("models", "history", "churn", home=trained).stdout


def test_refusals_and_bad_input_are_one_line_and_change_nothing(trained: Path) -> None:
    before = headrace("models", "history", "churn", "--json", home=trained).json()
    refused = headrace(
        "models", "promote", "churn@1", "--to", "production", "--require", "f1 >= 0.9", home=trained
    )
    assert_one_line_error(refused, 1, "not promoted", "unknown metric 'f1'")
    malformed = headrace(
        "models", "promote", "churn@1", "--to", "production", "--require", "f1 >>", home=trained
    )
    assert_one_line_error(malformed, 2, "cannot read gate")
    assert_one_line_error(
        headrace("models", "show", "nope@production", home=trained), 1, "no model named 'nope'"
    )
    assert_one_line_error(headrace("models", "show", "churn@staging", home=trained), 1, "'staging'")
    assert_one_line_error(headrace("models", "show", "churn@", home=trained), 2, "MODEL")
    assert headrace("models", "history", "churn", "--json", home=trained).json() == before
