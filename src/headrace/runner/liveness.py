"""Who drives a run, whether it is still alive, and marking the dead ones ``crashed``.

A run records its owner: host, process id and that process's start time. While it runs,
a heartbeat thread refreshes the run's heartbeat. When a client opens the store or lists
runs, every ``running`` run is checked:

- owned by a process on this host: crashed as soon as that process is gone, a zombie
  (killed but not yet waited for by its parent) or a different process under the same
  pid (the start time tells), so a kill -9 is seen at once whatever the parent does, and
  a live process is never declared dead, however long its step takes;
- owned elsewhere: crashed when its heartbeat is older than ``stale_after`` seconds
  (default six heartbeat intervals), since another host's processes cannot be seen.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterable

from headrace.store.stores import Stores

HEARTBEAT_ENV = "HEADRACE_HEARTBEAT_SECONDS"
DEFAULT_INTERVAL = 10.0
_STALE_INTERVALS = 6


def heartbeat_interval() -> float:
    try:
        value = float(os.environ.get(HEARTBEAT_ENV, DEFAULT_INTERVAL))
    except ValueError:
        return DEFAULT_INTERVAL
    return value if value > 0 else DEFAULT_INTERVAL


def _process_stat(pid: int) -> tuple[str, str] | None:
    """The kernel's state (field 3 of /proc/PID/stat) and start time (field 22) of
    ``pid``; None where there is no /proc or no such process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    return (fields[0], fields[19]) if len(fields) > 19 else None


def _process_start(pid: int) -> str | None:
    stat = _process_stat(pid)
    return stat[1] if stat else None


#: States of a process that has exited: zombie (not yet reaped by its parent) and dead.
_EXITED_STATES = frozenset({"Z", "X", "x"})


def owner_token() -> str:
    """This process, as stored in a run's ``owner``."""
    pid = os.getpid()
    return json.dumps(
        {"host": socket.gethostname(), "pid": pid, "start": _process_start(pid)},
        sort_keys=True,
    )


def owner_alive(owner: str | None) -> bool | None:
    """True/False for an owner on this host; None when it cannot be told from here."""
    if not owner:
        return None
    try:
        data = json.loads(owner)
        host, pid, start = data["host"], int(data["pid"]), data.get("start")
    except (ValueError, KeyError, TypeError):
        return None
    if host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    stat = _process_stat(pid)
    if stat is not None:
        state, current = stat
        if state in _EXITED_STATES:
            return False  # killed or exited; only its parent's wait() is missing
        if start is not None and current != start:
            return False  # the pid now belongs to another process
    return True


def reap_crashed_runs(stores: Stores, *, now: float | None = None) -> list[str]:
    """Mark every dead ``running`` run as crashed; returns their ids. Cheap enough to run
    on every listing: one indexed query, then a process check per running run."""
    now = time.time() if now is None else now
    stale_after = _STALE_INTERVALS * heartbeat_interval()
    crashed = []
    for run_id, owner, beat in stores.metadata.running_runs():
        alive = owner_alive(owner)
        if alive is False:
            reason = "its process is gone (killed or crashed) while the run was running"
        elif alive is None and beat is not None and now - beat > stale_after:
            reason = f"no heartbeat for {now - beat:.0f}s (limit {stale_after:.0f}s)"
        else:
            continue
        if stores.metadata.mark_crashed(run_id, at=now, reason=reason):
            crashed.append(run_id)
    return crashed


class Heartbeat:
    """A daemon thread refreshing the heartbeat of the runs this process drives."""

    def __init__(
        self, stores: Stores, run_ids: Iterable[str], interval: float | None = None
    ) -> None:
        self.stores = stores
        self.run_ids = list(run_ids)
        self.interval = interval or heartbeat_interval()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="headrace-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.stores.metadata.heartbeat(self.run_ids, time.time())
            except Exception:  # a missed beat is harmless; the next one may succeed
                continue
