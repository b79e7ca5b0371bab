"""Pipelines started on a cron schedule, or when an artifact gets a new version.

``add_schedule`` records ``FILE.py:PIPELINE`` with a cron expression (or
``on_artifact=NAME``, a trigger) and parameters;
:class:`Scheduler` (``headrace scheduler``) runs each one when it is due, in a child
process (``headrace run``), so a failing or crashing run never takes the scheduler down.
A schedule is claimed in the database before it starts, so it never runs twice at once,
not even with two schedulers on the same store. A run that is due while the previous one
is still going is skipped, not queued.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from headrace.errors import ConfigError, HeadraceError
from headrace.home import StoreSettings
from headrace.runner.liveness import owner_token
from headrace.store.protocols import ScheduleStore
from headrace.store.records import ARTIFACT_TRIGGER, ScheduleRecord
from headrace.store.stores import open_stores

log = logging.getLogger("headrace.schedules")

#: A claim older than this belongs to a scheduler that died: the schedule is free again.
STALE_AFTER_S = 6 * 3600.0


def next_fire(cron: str, after: float) -> float:
    """The first time strictly after ``after`` (epoch seconds, UTC) the expression matches."""
    from croniter import croniter

    try:
        itr = croniter(cron, datetime.fromtimestamp(after, tz=UTC))
        return float(itr.get_next(float))
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"invalid cron expression {cron!r}: {exc}") from exc


def check_cron(cron: str) -> str:
    from croniter import croniter

    if len(cron.split()) != 5 or not croniter.is_valid(cron):
        raise ConfigError(
            f"invalid cron expression {cron!r}: five fields, minute hour day month weekday "
            "(e.g. '*/5 * * * *')"
        )
    return cron


def _store(settings: StoreSettings) -> ScheduleStore:
    return open_stores(settings).metadata.schedules


def add_schedule(
    settings: StoreSettings,
    target: str,
    *,
    cron: str | None = None,
    on_artifact: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> ScheduleRecord:
    """Record a schedule of ``FILE.py:PIPELINE`` (the file path is stored absolute): on a
    ``cron`` expression, or whenever the artifact ``on_artifact`` gets a version newer
    than the newest one when the trigger was added."""
    if (cron is None) == (on_artifact is None):
        raise ConfigError("give a cron expression or an artifact to trigger on (one of them)")
    if cron is not None:
        check_cron(cron)
    file, sep, pipeline = target.rpartition(":")
    if not sep or not file or not pipeline.isidentifier():
        raise ConfigError(f"'{target}' is not FILE.py:PIPELINE")
    path = Path(file).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"{file} does not exist")
    params = dict(parameters or {})
    try:
        json.dumps(params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"schedule parameters must be JSON: {exc}") from exc
    # Find the pipeline and trace it with these parameters now (nothing runs): a typo
    # should fail here, not later in a background child process.
    from headrace.reproduce import find_pipeline, load_script

    find_pipeline(load_script(path), pipeline).compile(**params)
    if on_artifact is not None:
        when, first = f"{ARTIFACT_TRIGGER}{on_artifact}", _newest(settings, on_artifact)
    else:
        assert cron is not None
        when, first = cron, next_fire(cron, time.time())
    return _store(settings).add_schedule(
        name or pipeline,
        target=f"{path}:{pipeline}",
        cron=when,
        parameters=params,
        next_run_at=first,
    )


def _newest(settings: StoreSettings, artifact: str) -> float:
    """Creation time of the newest version of ``artifact`` (0 when it has none)."""
    found = open_stores(settings).metadata.list_artifact_versions(name=artifact, limit=1)
    return found[0].created_at if found else 0.0


def list_schedules(settings: StoreSettings) -> list[ScheduleRecord]:
    return _store(settings).list_schedules()


def remove_schedule(settings: StoreSettings, name: str) -> None:
    _store(settings).remove_schedule(name)


class Scheduler:
    """Starts due schedules every ``tick`` seconds until :meth:`stop`."""

    def __init__(
        self,
        settings: StoreSettings,
        *,
        tick: float = 1.0,
        stale_after: float = STALE_AFTER_S,
        run_timeout: float | None = None,
    ) -> None:
        self.settings = settings
        self.tick = tick
        self.stale_after = stale_after
        self.run_timeout = run_timeout
        self.owner = owner_token()
        self.started: list[tuple[str, float]] = []  # (schedule, at) for every run started
        self.finished: list[tuple[str, str]] = []  # (schedule, status)
        self._threads: dict[str, threading.Thread] = {}
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self, *, until: float | None = None) -> None:
        """Loop until :meth:`stop` (or the ``until`` epoch time); waits for running runs."""
        while not self._stop.is_set() and (until is None or time.time() < until):
            try:
                self.run_due()
            except HeadraceError as exc:
                log.error("scheduler: %s", exc)
            self._stop.wait(self.tick)
        self.wait()

    def wait(self) -> None:
        """Wait until every run this scheduler started has finished and been recorded."""
        for thread in list(self._threads.values()):
            thread.join()

    def run_due(self, now: float | None = None) -> list[str]:
        """Claim and start every due schedule; returns their names."""
        now = time.time() if now is None else now
        store = _store(self.settings)
        claimed: list[tuple[ScheduleRecord, float | None]] = [
            (s, None) for s in store.claim_due(now, self.owner, self.stale_after)
        ]
        for trigger in store.list_schedules():
            if not trigger.cron.startswith(ARTIFACT_TRIGGER):
                continue
            seen = _newest(self.settings, trigger.cron[len(ARTIFACT_TRIGGER) :])
            if seen > trigger.next_run_at:
                got = store.claim_trigger(
                    trigger.name,
                    seen=seen,
                    now=now,
                    owner=self.owner,
                    stale_after=self.stale_after,
                )
                if got is not None:
                    claimed.append((got, seen))
        names = []
        for schedule, handled in claimed:
            if schedule.name in self._threads and self._threads[schedule.name].is_alive():
                continue
            thread = threading.Thread(
                target=self._run_one,
                args=(schedule, now, handled),
                name=f"schedule-{schedule.name}",
                daemon=True,
            )
            self._threads[schedule.name] = thread
            self.started.append((schedule.name, now))
            thread.start()
            names.append(schedule.name)
        return names

    def _run_one(self, schedule: ScheduleRecord, claimed_at: float, seen: float | None) -> None:
        status = "failed"
        try:
            file, _, pipeline = schedule.target.rpartition(":")
            args = [sys.executable, "-m", "headrace.cli", "run", f"{file}:{pipeline}"]
            for key, value in schedule.parameters.items():
                args += ["-p", f"{key}={json.dumps(value)}"]
            env = {**os.environ}
            if self.settings.home:
                env["HEADRACE_HOME"] = self.settings.home
            log.info("schedule '%s': starting %s", schedule.name, schedule.target)
            done = subprocess.run(
                args,
                env=env,
                cwd=str(Path(file).parent),
                capture_output=True,
                text=True,
                timeout=self.run_timeout,
            )
            status = "completed" if done.returncode == 0 else "failed"
            if done.returncode != 0:
                log.warning("schedule '%s' failed: %s", schedule.name, done.stderr.strip()[-500:])
        except Exception:
            log.exception("schedule '%s' could not be started", schedule.name)
        finally:
            self.finished.append((schedule.name, status))
            try:
                _store(self.settings).finish_schedule(
                    schedule.name,
                    owner=self.owner,
                    status=status,
                    ran_at=claimed_at,
                    next_run_at=(
                        seen
                        if seen is not None
                        else next_fire(schedule.cron, max(time.time(), claimed_at))
                    ),
                )
            except HeadraceError:
                log.exception("schedule '%s': could not record the end of the run", schedule.name)
