"""Schedules: the CLI, the cron arithmetic, and a scheduler that survives a failing run and
never runs one schedule twice at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from headrace.errors import ConfigError, StoreError
from headrace.schedules import Scheduler, add_schedule, list_schedules, next_fire, remove_schedule
from headrace.store.metadata.registry import ModelStore
from headrace.store.stores import open_stores
from models.helpers import assert_one_line_error, cli_env, headrace

FLOW = """\
import time
from typing import Annotated

from headrace import pipeline, step


@step(cache=False)
def tick(label: str = "x", pause: float = 0.0) -> Annotated[str, "ticked"]:
    time.sleep(pause)
    return label


@step(cache=False)
def explode() -> Annotated[int, "never"]:
    raise RuntimeError("this run fails")


@pipeline
def ticking(label: str = "x", pause: float = 0.0) -> None:
    tick(label=label, pause=pause)


@pipeline
def failing() -> None:
    explode()
"""


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    path = tmp_path / "flow.py"
    path.write_text(FLOW, encoding="utf-8")
    return path


def test_cron_arithmetic_is_utc() -> None:
    start = datetime(2026, 1, 1, 10, 2, tzinfo=UTC).timestamp()
    assert next_fire("*/5 * * * *", start) == datetime(2026, 1, 1, 10, 5, tzinfo=UTC).timestamp()
    assert next_fire("0 3 * * *", start) == datetime(2026, 1, 2, 3, 0, tzinfo=UTC).timestamp()


def test_the_cli_adds_lists_and_removes(flow: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    added = headrace(
        "schedule",
        "add",
        f"{flow}:ticking",
        "--cron",
        "*/5 * * * *",
        "-p",
        "label=hi",
        "--json",
        home=home,
    )
    assert added.code == 0, str(added)
    assert added.json()["parameters"] == {"label": "hi"} and added.json()["target"].endswith(
        "flow.py:ticking"
    )
    listed = headrace("schedule", "list", "--json", home=home).json()
    assert [s["name"] for s in listed] == ["ticking"]
    assert "ticking" in headrace("schedule", "list", home=home).stdout
    assert_one_line_error(
        headrace("schedule", "add", f"{flow}:ticking", "--cron", "*/5 * * * *", home=home),
        1,
        "already exists",
    )
    assert_one_line_error(
        headrace(
            "schedule", "add", f"{flow}:ticking", "--cron", "every minute", "--name", "x", home=home
        ),
        2,
        "invalid cron expression",
    )
    assert_one_line_error(
        headrace("schedule", "add", "missing.py:ticking", "--cron", "* * * * *", home=home),
        2,
        "does not exist",
    )
    assert headrace("schedule", "remove", "ticking", home=home).code == 0
    assert_one_line_error(
        headrace("schedule", "remove", "ticking", home=home), 1, "no schedule named"
    )
    assert headrace("schedule", "list", home=home).stdout.strip() == "no schedules"


def test_due_schedules_run_and_a_failing_run_does_not_stop_the_scheduler(
    flow: Path, home: Path
) -> None:
    from headrace import Client

    settings = Client().settings
    add_schedule(settings, f"{flow}:ticking", cron="* * * * *", parameters={"label": "a"})
    add_schedule(settings, f"{flow}:failing", cron="* * * * *")
    scheduler = Scheduler(settings, tick=0.05)
    now = time.time() + 120  # both are due
    assert sorted(scheduler.run_due(now)) == ["failing", "ticking"]
    scheduler.run(until=time.time() + 0.2)  # waits for both children
    assert sorted(scheduler.finished) == [("failing", "failed"), ("ticking", "completed")]
    records = {s.name: s for s in list_schedules(settings)}
    assert (
        records["ticking"].last_status == "completed" and records["failing"].last_status == "failed"
    )
    assert all(r.running_since is None and r.next_run_at > now for r in records.values())
    runs = Client().runs()
    assert sorted((r.pipeline, r.status) for r in runs) == [
        ("failing", "failed"),
        ("ticking", "completed"),
    ]
    assert runs[-1].parameters.get("label", "a") == "a"
    remove_schedule(settings, "failing")
    with pytest.raises(StoreError):
        remove_schedule(settings, "failing")
    with pytest.raises(ConfigError):
        add_schedule(settings, f"{flow}:ticking", cron="61 * * * *", name="bad")


def test_a_schedule_never_runs_twice_at_once(flow: Path, home: Path) -> None:
    from headrace import Client

    settings = Client().settings
    add_schedule(settings, f"{flow}:ticking", cron="* * * * *", parameters={"pause": 1.5})
    first, second = Scheduler(settings), Scheduler(settings)
    later = time.time() + 120
    started = []
    barrier = threading.Barrier(2)

    def claim(s: Scheduler) -> None:
        barrier.wait()
        started.extend(s.run_due(later))

    threads = [threading.Thread(target=claim, args=(s,)) for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert started == ["ticking"]
    # while it runs, it is not due again, even a minute later
    assert first.run_due(later + 60) == [] and second.run_due(later + 60) == []
    store = ModelStore.of(open_stores(settings).metadata)
    assert store.list_schedules()[0].running_since is not None
    first.run(until=time.time() + 0.1)
    second.run(until=time.time() + 0.1)
    assert len(Client().runs()) == 1


def test_an_artifact_trigger_runs_once_per_new_version(flow: Path, home: Path) -> None:
    from headrace import Client
    from headrace.reproduce import find_pipeline, load_script

    settings = Client().settings
    ticking = find_pipeline(load_script(flow), "ticking")
    ticking(label="before")  # an existing version does not fire a new trigger
    trigger = add_schedule(settings, f"{flow}:ticking", on_artifact="ticked", name="on-tick")
    assert trigger.cron == "@artifact ticked"
    scheduler = Scheduler(settings)
    assert scheduler.run_due() == []
    ticking(label="new")
    assert scheduler.run_due() == ["on-tick"]
    scheduler.run(until=time.time() + 0.1)
    assert scheduler.finished == [("on-tick", "completed")]
    # the triggered run made a new version itself, which fires the trigger again
    assert scheduler.run_due() == ["on-tick"]
    scheduler.run(until=time.time() + 0.1)
    assert len(Client().runs()) == 4
    with pytest.raises(ConfigError, match="one of them"):
        add_schedule(settings, f"{flow}:ticking", cron="* * * * *", on_artifact="x", name="both")
    done = headrace("schedule", "list", "--json", home=home)
    assert done.json()[0]["cron"] == "@artifact ticked"


def test_the_scheduler_command_runs_in_the_foreground_until_interrupted(
    flow: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    assert headrace("run", f"{flow}:ticking", home=home).code == 0
    added = headrace("schedule", "add", f"{flow}:failing", "--on-artifact", "ticked", home=home)
    assert added.code == 0, str(added)
    assert (
        headrace("schedule", "add", f"{flow}:ticking", "--cron", "0 0 1 1 *", home=home).code == 0
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "headrace.cli", "scheduler", "--tick", "0.2"],
        env=cli_env(home),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)
        assert headrace("run", f"{flow}:ticking", "-p", "label=new", home=home).code == 0
        deadline = time.monotonic() + 60
        while True:
            listed = {
                s["name"]: s for s in headrace("schedule", "list", "--json", home=home).json()
            }
            if listed["failing"]["last_status"] == "failed":
                break
            assert process.poll() is None and time.monotonic() < deadline, process.stderr
            time.sleep(0.3)
        assert process.poll() is None  # a failing run did not stop it
        assert listed["ticking"]["last_status"] is None  # not due yet
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "scheduler started" in stderr and "Traceback" not in stderr


def test_a_schedule_is_checked_when_it_is_added(flow: Path, home: Path) -> None:
    from headrace.errors import DefinitionError
    from headrace.home import resolve_settings

    settings = resolve_settings()
    with pytest.raises(DefinitionError, match="has no attribute 'tickng'"):
        add_schedule(settings, f"{flow}:tickng", cron="*/5 * * * *")
    with pytest.raises(DefinitionError, match="unexpected keyword argument 'lable'"):
        add_schedule(settings, f"{flow}:ticking", cron="*/5 * * * *", parameters={"lable": "y"})
    with pytest.raises(ConfigError, match="five fields"):
        add_schedule(settings, f"{flow}:ticking", cron="0 */5 * * * *")
    assert list_schedules(settings) == []
