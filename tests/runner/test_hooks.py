"""Lifecycle hooks: every event of a run, in order, from threads and from step processes;
a broken plugin never breaks a run's recording."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from headrace import StepError, hooks

from . import flows


@pytest.fixture
def recorder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    log = tmp_path / "hooks.log"
    monkeypatch.setenv("HOOK_LOG", str(log))
    hooks.register(flows.RECORDER)
    yield log
    hooks.unregister(flows.RECORDER)


def events(log: Path) -> list[str]:
    return [line.split(" ", 1)[1] for line in log.read_text().splitlines()]


@pytest.mark.parametrize("isolation", ["threads", "process"])
def test_a_plugin_receives_every_event_in_order(home: Path, recorder: Path, isolation: str) -> None:
    run = flows.mapped.with_options(orchestrator={"isolation": isolation, "max_parallel": 1})(n=2)
    seen = events(recorder)
    assert seen[0] == "run_start mapped" and seen[-1] == "run_end completed"
    for name, artifact in [
        ("numbers", "numbers"),
        ("square[0]", "square"),
        ("square[1]", "square"),
        ("total", "total"),
    ]:
        start = seen.index(f"step_start {name}")
        saved = next(
            i
            for i, e in enumerate(seen)
            if e.startswith(f"artifact_saved {artifact} ") and i > start
        )
        end = seen.index(
            next(e for e in seen if e.startswith(f"step_end {name} completed hit=False"))
        )
        assert start < saved < end
    assert (
        seen.index("step_start numbers")
        < seen.index("step_start square[0]")
        < seen.index("step_start total")
    )
    # The step_end answers are recorded on the step run.
    assert run.steps["total"].metadata["links"] == {"recorder": "seen total"}
    pids = {line.split()[0] for line in recorder.read_text().splitlines() if " step_start " in line}
    assert (len(pids) > 1) is (isolation == "process")


def test_cache_hits_and_failures_are_events_too(home: Path, recorder: Path) -> None:
    flows.mapped(n=1)
    recorder.write_text("")
    flows.mapped(n=1)
    assert "step_end numbers completed hit=True outputs=[]" in events(recorder)
    recorder.write_text("")
    with pytest.raises(StepError):
        flows.failing()
    seen = events(recorder)
    assert "failure explode" in seen
    assert "step_end explode failed hit=False outputs=[]" in seen
    assert seen[-1] == "run_end failed"


def test_a_broken_plugin_is_logged_and_the_run_is_recorded(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hooks.register(flows.BROKEN)
    try:
        with caplog.at_level(logging.WARNING, logger="headrace.hooks"):
            run = flows.mapped(n=1)
    finally:
        hooks.unregister(flows.BROKEN)
    assert run.status == "completed"
    assert all(s.status == "completed" for s in run.steps.values())
    assert "this plugin is broken" in caplog.text and "runner.flows:BROKEN" in caplog.text


def test_an_entry_point_plugin_that_fails_to_load_names_its_distribution(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from importlib import metadata

    class Dist:
        name = "broken-headrace-plugin"

    class Entry:
        name = "broken"
        dist = Dist()

        def load(self) -> object:
            raise ImportError("no module named broken_plugin")

    monkeypatch.setattr(
        metadata, "entry_points", lambda group=None: [Entry()] if group == hooks.GROUP else []
    )
    hooks._entry_point_plugins.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="headrace.hooks"):
            loaded = hooks.hooks_for()
    finally:
        hooks._entry_point_plugins.cache_clear()
    assert loaded.empty
    assert (
        "broken-headrace-plugin" in caplog.text and "no module named broken_plugin" in caplog.text
    )
