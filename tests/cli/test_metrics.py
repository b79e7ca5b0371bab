"""``headrace runs show`` prints metric histories; ``runs list --where`` filters on them."""

from __future__ import annotations

from pathlib import Path

from .helpers import assert_one_line_error, headrace

FLOW = """\
from typing import Annotated
from headrace import log_metric, pipeline, step

@step(cache=False)
def fit(final: float = 0.9) -> Annotated[float, "score"]:
    for epoch in range(5):
        log_metric("accuracy", final - 0.1 * (4 - epoch))
    return final

@pipeline
def fitting(final: float = 0.9):
    fit(final=final)
"""


def test_the_command_line_shows_and_filters_metrics(tmp_path: Path) -> None:
    home = tmp_path / "home"
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW)
    for final in ("0.85", "0.97"):
        assert headrace("run", f"{flow}:fitting", "-p", f"final={final}", home=home).code == 0
    shown = headrace("runs", "show", "latest", home=home)
    assert shown.code == 0, str(shown)
    assert "metric accuracy = 0.97  (5 points, steps 0-4, min 0.57, max 0.97)" in shown.stdout
    listed = headrace("runs", "list", "--where", "accuracy > 0.9", "--json", home=home)
    assert listed.code == 0, str(listed)
    assert [r["parameters"]["final"] for r in listed.json()] == [0.97]
    details = headrace("runs", "show", "latest", "--json", home=home).json()
    assert [p["step"] for p in details["steps"][0]["metrics"]["accuracy"]] == [0, 1, 2, 3, 4]
    none = headrace("runs", "list", "--where", "accuracy > 0.99", home=home)
    assert none.stdout.strip() == "no runs match"
    bad = headrace("runs", "list", "--where", "accuracy >> 1", home=home)
    assert_one_line_error(bad, 1, "--where 'accuracy >> 1'", "expected NAME OP NUMBER")
