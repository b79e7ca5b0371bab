"""PostgreSQL restarted, or down for a moment, in the middle of a run: the run completes.

These tests start a private PostgreSQL cluster (``initdb`` as the ``postgres`` user into a
temp folder, its own port, ``fsync=off``, its socket in that folder) and restart it; the
shared server is never touched.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from headrace import Client
from headrace.home import StoreSettings
from headrace.store.stores import close_stores, open_stores

from . import flows
from .conftest import check_store


@dataclass(frozen=True)
class Cluster:
    folder: Path
    port: int
    bin: Path

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.folder / "data"),
                "-l",
                str(self.folder / "server.log"),
                "-w",
                "-t",
                "60",
                *args,
            ],
            check=True,
            capture_output=True,
            timeout=90,
        )

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off"
        self.pg_ctl("-o", options, "start")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found or shutil.which("runuser") is None or os.geteuid() != 0:
        pytest.skip("needs PostgreSQL's initdb and root (to run it as the postgres user)")
    folder = Path(tempfile.mkdtemp(prefix="headrace-pg-"))
    shutil.chown(folder, "postgres", "postgres")
    cluster = Cluster(folder, _free_port(), Path(found[-1]).parent)
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(cluster.bin / "initdb"),
            "-D",
            str(folder / "data"),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    cluster.start()
    try:
        yield cluster
    finally:
        close_stores()
        try:
            cluster.pg_ctl("-m", "immediate", "stop")
        finally:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def settings(
    cluster: Cluster, tmp_path: Path, flow_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StoreSettings]:
    """A fresh schema of the private cluster as the metadata store of the active home."""
    import psycopg
    from sqlalchemy import make_url

    schema = f"s_{os.urandom(6).hex()}"
    with psycopg.connect(
        f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres", autocommit=True
    ) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    url = (
        make_url(cluster.url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    monkeypatch.setenv("HEADRACE_METADATA_URL", url)
    monkeypatch.setenv("HEADRACE_HEARTBEAT_SECONDS", "0.2")  # beats while the server is away
    yield Client().settings
    close_stores()


def _run_held(flow_dir: Path) -> tuple[threading.Thread, dict[str, Any]]:
    """Start ``faulty`` in a thread and wait until its middle step is held."""
    (flow_dir / "hold").touch()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["run"] = flows.faulty()
        except BaseException as exc:  # reported by the assertions of the test
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    while not (flow_dir / "transform.started").exists():
        assert thread.is_alive() and time.monotonic() < deadline, outcome
        time.sleep(0.02)
    return thread, outcome


def _assert_completed(outcome: dict[str, Any]) -> None:
    assert "error" not in outcome, outcome.get("error")
    client = Client()
    run = client.run(outcome["run"].id)
    assert run.status == "completed"
    assert [s.status for s in run.steps.values()] == ["completed"] * 3
    expected = flows.expected()
    assert run.steps["report"].outputs["report"].load() == expected["report"]
    assert run.steps["transform"].outputs["stats"].load() == expected["stats"]
    for name in ("values", "scaled", "stats", "report"):
        assert [a.version for a in client.artifacts(name=name)] == [1]
    found = check_store(client)
    assert found.partial == set() and found.temp == []


def test_a_restart_in_the_middle_of_a_run(
    cluster: Cluster, settings: StoreSettings, flow_dir: Path
) -> None:
    thread, outcome = _run_held(flow_dir)
    backend_pids = _backend_pids(cluster)
    cluster.pg_ctl("-m", "fast", "restart")  # every open connection is cut
    time.sleep(0.5)  # a heartbeat or two find their connection gone
    (flow_dir / "hold").unlink()
    thread.join(timeout=120)
    assert not thread.is_alive()
    _assert_completed(outcome)
    assert backend_pids.isdisjoint(_backend_pids(cluster))  # new connections were made


def test_the_server_down_while_a_step_commits(
    cluster: Cluster, settings: StoreSettings, flow_dir: Path
) -> None:
    thread, outcome = _run_held(flow_dir)
    database = open_stores(settings).metadata._db
    retried = database.retries
    cluster.pg_ctl("-m", "fast", "stop")
    try:
        (flow_dir / "hold").unlink()  # transform ends and tries to record its outputs
        time.sleep(1.5)
        assert thread.is_alive()  # its commit waits and retries
    finally:
        cluster.start()
    thread.join(timeout=120)
    assert not thread.is_alive()
    _assert_completed(outcome)
    assert database.retries > retried


def _backend_pids(cluster: Cluster) -> set[int]:
    import psycopg

    with psycopg.connect(
        f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres", autocommit=True
    ) as admin:
        rows = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        ).fetchall()
    return {int(r[0]) for r in rows}
