"""Injected faults during real pipeline runs: a full or read-only artifact store, a
metadata database that goes away, and a SQLite write lock held by someone else.

Whatever fails, the promises hold: the error says what went wrong, the run and step are
recorded as failed (or, when the records themselves cannot be written, the run is marked
crashed once its process is gone), no partial artifact is ever visible, and temporary
files are cleaned up."""

from __future__ import annotations

import errno
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pytest

import headrace.store.artifacts  # noqa: F401  (binds the real copy_hashing before patching)
from headrace import Client, StepError, StoreError
from headrace.store import backends
from headrace.store.backends import LocalBackend

from . import flows
from .conftest import check_store, python

# Each output is one file plus its manifest: writes 1-2 are produce's ``values``, 3-4
# transform's ``scaled``, 5-6 its ``stats``, 7-8 report's ``report``.
WRITES = {"scaled file": 3, "scaled manifest": 4, "stats file": 5}


@pytest.fixture
def staging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where steps stage their outputs (the temp folder), empty: checked after the test."""
    folder = tmp_path / "staging"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _fail_writes_from(
    monkeypatch: pytest.MonkeyPatch, first: int, error: Callable[[], OSError], *, partial: bool
) -> list[int]:
    """Make the artifact store's ``first``-th byte write and every later one fail with
    ``error()``, after writing part of the temp file when ``partial``."""
    calls: list[int] = []
    real = backends.copy_hashing

    def copy(source: BinaryIO, target: BinaryIO) -> tuple[int, str]:
        calls.append(1)
        if len(calls) >= first:
            if partial:
                target.write(source.read(1000))
                target.flush()
            raise error()
        return real(source, target)

    monkeypatch.setattr(backends, "copy_hashing", copy)
    return calls


def _assert_failed_cleanly(run_id: str, message: str, staging: Path) -> tuple[int, int]:
    """Check the records and the store; (partial objects, complete unreferenced objects)."""
    client = Client()
    run = client.run(run_id)
    assert run.status == "failed"
    assert message in (run.error or "")
    steps = run.steps
    assert steps["produce"].status == "completed"
    assert steps["transform"].status == "failed"
    assert message in (steps["transform"].error or "")
    assert steps["transform"].record.outputs == {}
    assert steps["report"].status == "skipped"
    np.testing.assert_array_equal(
        steps["produce"].outputs["values"].load(), flows.expected()["values"]
    )
    for name in ("scaled", "stats", "report"):
        assert client.artifacts(name=name) == []
    found = check_store(client)  # nothing partial is visible, every reference verifies
    assert found.temp == []  # the temp file of the failed write was removed
    assert list(staging.iterdir()) == []  # the step's staging folder is gone too
    unreferenced = found.complete - client.stores.metadata.referenced_hashes()
    return len(found.partial), len(unreferenced)


@pytest.mark.parametrize("where", list(WRITES))
def test_a_full_artifact_store_fails_the_step_with_a_clear_error(
    home: Path, staging: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    with monkeypatch.context() as patch, pytest.raises(StepError) as caught:
        _fail_writes_from(
            patch,
            WRITES[where],
            lambda: OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
            partial=True,
        )
        flows.faulty()
    assert "artifact store is full" in str(caught.value)
    assert caught.value.step == "transform"
    assert isinstance(caught.value.__cause__, StoreError)
    assert "free space or run `headrace gc`" in str(caught.value)
    assert caught.value.run_id is not None
    garbage = _assert_failed_cleanly(caught.value.run_id, "artifact store is full", staging)
    # Files without their manifest are invisible; a complete object that no version
    # points at is unreferenced: both are garbage for `headrace gc`, neither is visible.
    assert (
        garbage == {"scaled file": (0, 0), "scaled manifest": (1, 0), "stats file": (0, 1)}[where]
    )

    # Once there is room again, resuming reruns only what failed.
    resumed = Client().resume(caught.value.run_id)
    assert resumed.status == "completed"
    assert resumed.steps["produce"].cache_hit and not resumed.steps["transform"].cache_hit
    assert resumed.steps["report"].outputs["report"].load() == flows.expected()["report"]
    assert check_store(Client()).partial == set()  # storing it again completed it


@pytest.mark.parametrize(
    "error",
    [
        lambda: OSError(errno.EROFS, os.strerror(errno.EROFS)),
        lambda: PermissionError(errno.EACCES, os.strerror(errno.EACCES)),
    ],
    ids=["EROFS", "EACCES"],
)
def test_a_read_only_artifact_store_fails_the_step_with_a_clear_error(
    home: Path,
    staging: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: Callable[[], OSError],
) -> None:
    # A read-only folder refuses the first thing a write does: creating its temp file.
    created: list[int] = []
    real = LocalBackend._create_tmp

    def create_tmp(self: LocalBackend) -> tuple[Path, int]:
        created.append(1)
        if len(created) >= WRITES["scaled file"]:
            raise error()
        return real(self)

    monkeypatch.setattr(LocalBackend, "_create_tmp", create_tmp)
    with pytest.raises(StepError, match="artifact store is read-only") as caught:
        flows.faulty()
    assert caught.value.step == "transform"
    assert str(home / "artifacts") in str(caught.value)
    assert caught.value.run_id is not None
    garbage = _assert_failed_cleanly(caught.value.run_id, "artifact store is read-only", staging)
    assert garbage == (0, 0)


def test_an_artifact_store_that_cannot_be_opened_records_nothing(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: LocalBackend) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(home / "artifacts" / "tmp"))

    with monkeypatch.context() as patch:
        patch.setattr(LocalBackend, "_ensure_tmp", refuse)
        with pytest.raises(StoreError, match=r"cannot open the artifact store at .*Read-only"):
            flows.faulty()
    assert Client().runs() == []


# -- the metadata database goes away -----------------------------------------------------------

UNREACHABLE = """
import sys
import injection
injection.metadata_unreachable(int(sys.argv[1]), before_commit=sys.argv[2] == "before")
from headrace.cli import main
main(["run", sys.argv[3] + ":faulty"])
"""


@pytest.mark.parametrize(
    ("after", "when"),
    [(1, "after"), (2, "before")],
    ids=["after-the-first-step", "at-the-second-step-commit"],
)
def test_metadata_store_unreachable_mid_run(home: Path, after: int, when: str) -> None:
    done = python(UNREACHABLE, str(after), when, flows.__file__, home=home)
    assert done.code == 1, str(done)
    assert "Traceback" not in done.stderr
    *warnings, line = done.stderr.splitlines()
    assert line.startswith("Error: metadata store 'sqlite:///"), str(done)
    assert "unable to open database file" in line
    if when == "before":
        # The step's failure could not be recorded either; said in one line, no traceback.
        (warning,) = warnings
        assert warning.startswith("could not record the failure of step run")
    else:
        assert warnings == []

    # The process could not record the end of its run; the run is not left running.
    client = Client()
    (run,) = client.runs(pipeline="faulty")
    assert run.status == "crashed"
    assert "process is gone" in (run.error or "")
    steps = run.steps
    assert steps["produce"].status == "completed"
    np.testing.assert_array_equal(
        steps["produce"].outputs["values"].load(), flows.expected()["values"]
    )
    if when == "before":
        # transform stored its outputs, but the commit that would point at them failed.
        assert steps["transform"].status == "crashed"
        assert steps["transform"].record.outputs == {}
    else:
        assert "transform" not in steps
    assert "report" not in steps
    for name in ("scaled", "stats", "report"):
        assert client.artifacts(name=name) == []
    found = check_store(client)
    assert found.temp == [] and found.partial == set()
    unreferenced = found.complete - client.stores.metadata.referenced_hashes()
    assert len(unreferenced) == (2 if when == "before" else 0)  # garbage for `headrace gc`


# -- SQLite busy ----------------------------------------------------------------------------------


def test_a_sqlite_write_lock_held_elsewhere_only_delays_the_run(
    home: Path, flow_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADRACE_HEARTBEAT_SECONDS", "0.2")  # the heartbeat writes too
    (flow_dir / "hold").touch()
    outcome: dict[str, Any] = {}

    def drive() -> None:
        try:
            outcome["run"] = flows.faulty()
        except BaseException as exc:  # reported by the assertions below
            outcome["error"] = exc

    thread = threading.Thread(target=drive)
    thread.start()
    deadline = time.monotonic() + 60
    while not (flow_dir / "transform.started").exists():
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.02)
    other = sqlite3.connect(home / "headrace.db", isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # no other connection may write now
        (flow_dir / "hold").unlink()
        held = 3.0
        time.sleep(held)
        released = time.time()
        assert thread.is_alive()  # transform is done, but its commit waits for the lock
    finally:
        other.execute("COMMIT")
        other.close()
    thread.join(timeout=60)
    assert "error" not in outcome, outcome.get("error")
    run = Client().run(outcome["run"].id)
    assert run.status == "completed"
    assert run.record.ended_at is not None and run.record.ended_at >= released
    assert run.steps["report"].outputs["report"].load() == flows.expected()["report"]
    assert check_store(Client()).partial == set()
