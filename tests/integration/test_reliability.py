"""Crash detection, resume, timeouts and Ctrl-C with real processes and real signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headrace import Client, HeadraceError, StepError
from headrace.runner.liveness import owner_alive, owner_token, reap_crashed_runs

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"
sys.path.insert(0, str(HERE))
import reliable_flow  # noqa: E402


@pytest.fixture
def flow_dir(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "flow"
    folder.mkdir()
    monkeypatch.setenv("FLOW_DIR", str(folder))
    return folder


def _env(home: Path, flow_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "HEADRACE_HOME": str(home),
        "FLOW_DIR": str(flow_dir),
        "PYTHONPATH": os.pathsep.join([str(SRC), str(HERE)]),
        **extra,
    }


def _start(which: str, home: Path, flow_dir: Path, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HERE / "reliable_flow.py"), which],
        env=_env(home, flow_dir, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"process ended early: {proc.communicate()}")
        assert time.time() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


def test_kill_9_is_detected_and_resume_reuses_what_finished(home: Path, flow_dir: Path) -> None:
    (flow_dir / "block").touch()
    proc = _start("crashable", home, flow_dir)
    _wait_for(flow_dir / "blocking.started", proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()

    crashed = Client().runs(pipeline="crashable")[0]
    assert crashed.status == "crashed"
    assert "process is gone" in (crashed.error or "")
    steps = crashed.steps
    assert steps["first"].status == "completed"
    assert steps["blocking"].status == "crashed"
    assert "last" not in steps

    (flow_dir / "block").unlink()
    resumed = Client().resume(crashed)
    assert resumed.status == "completed"
    assert resumed.origin_run_id == crashed.id
    assert resumed.steps["first"].cache_hit
    assert (
        resumed.steps["first"].cache_reason
        == f"resumed: reused the outputs of run {crashed.id[:12]}"
    )
    assert (flow_dir / "first.count").read_text() == "1"  # not computed again
    assert not resumed.steps["blocking"].cache_hit
    assert resumed.steps["last"].outputs["result"].load() == 20


_UNREAPING_PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, sys.argv[1], "crashable"])
print(child.pid, flush=True)
time.sleep(600)  # never waits for the child: once killed, it stays a zombie
"""


def test_a_killed_driver_left_unreaped_is_crashed(home: Path, flow_dir: Path) -> None:
    (flow_dir / "block").touch()
    parent = subprocess.Popen(
        [sys.executable, "-c", _UNREAPING_PARENT, str(HERE / "reliable_flow.py")],
        env=_env(home, flow_dir, HEADRACE_HEARTBEAT_SECONDS="0.5"),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        driver = int(parent.stdout.readline())
        _wait_for(flow_dir / "blocking.started", parent)
        assert Client().runs(pipeline="crashable")[0].status == "running"
        os.kill(driver, signal.SIGKILL)
        deadline = time.time() + 10
        while Path(f"/proc/{driver}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.time() < deadline, "the killed driver never became a zombie"
            time.sleep(0.02)
        killed_at = time.time()
        run = Client().runs(pipeline="crashable")[0]  # the pid still exists, as a zombie
        assert run.status == "crashed"
        assert time.time() - killed_at < 0.5  # within one liveness interval
        assert "process is gone" in (run.error or "")
        assert Path(f"/proc/{driver}").exists()  # nobody reaped it in the meantime
    finally:
        parent.kill()
        parent.communicate()
        (flow_dir / "block").unlink(missing_ok=True)


def test_a_live_run_is_never_marked_crashed(home: Path, flow_dir: Path) -> None:
    (flow_dir / "block").touch()
    proc = _start("crashable", home, flow_dir, HEADRACE_HEARTBEAT_SECONDS="0.2")
    try:
        _wait_for(flow_dir / "blocking.started", proc)
        deadline = time.time() + 3  # many heartbeat intervals
        while time.time() < deadline:
            runs = Client().runs(pipeline="crashable")
            assert [r.status for r in runs] == ["running"]
            time.sleep(0.1)
    finally:
        (flow_dir / "block").unlink()
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert Client().runs(pipeline="crashable")[0].status == "completed"


def test_owner_checks() -> None:
    me = owner_token()
    assert owner_alive(me) is True
    dead = json.loads(me) | {"pid": 2**22 + 12345}
    assert owner_alive(json.dumps(dead)) is False
    recycled = json.loads(me) | {"start": "1"}
    assert owner_alive(json.dumps(recycled)) is False
    elsewhere = json.loads(me) | {"host": socket.gethostname() + "-other"}
    assert owner_alive(json.dumps(elsewhere)) is None
    assert owner_alive(None) is None and owner_alive("not json") is None


def test_a_run_on_another_host_is_crashed_only_after_its_heartbeat_stops(home: Path) -> None:
    from headrace.home import resolve_settings
    from headrace.store.stores import open_stores

    stores = open_stores(resolve_settings())
    stores.metadata.put_environment("e" * 64, {})
    foreign = json.dumps({"host": "elsewhere.example", "pid": 1, "start": None})
    now = time.time()
    for run_id in ("a" * 32, "b" * 32):
        stores.metadata.create_run(
            run_id=run_id,
            pipeline="remote",
            parameters={},
            spec={},
            environment_hash="e" * 64,
            started_at=now,
            owner=foreign,
        )
    stores.metadata.heartbeat(["a" * 32], now - 3600)
    stores.metadata.heartbeat(["b" * 32], now - 5)
    assert reap_crashed_runs(stores) == ["a" * 32]
    assert stores.metadata.get_run("a" * 32).status == "crashed"
    assert stores.metadata.get_run("b" * 32).status == "running"


def test_step_timeout_kills_the_step_and_fails_the_run(home: Path, flow_dir: Path) -> None:
    with pytest.raises(StepError, match=r"step 'sleepy'.*timed out after 1s") as info:
        reliable_flow.timed()
    pid = int((flow_dir / "sleepy.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    run = Client().run(info.value.run_id or "")
    assert run.status == "failed"
    assert run.steps["sleepy"].status == "failed"
    assert run.steps["sleepy"].error.startswith("timed out after 1s of the step's own time")
    quick = reliable_flow.timed(seconds=0.1)  # within the limit, it completes
    assert quick.steps["sleepy"].outputs["slept"].load() == 0.1


def test_ctrl_c_cancels_the_run_and_kills_its_step_process(home: Path, flow_dir: Path) -> None:
    proc = _start("timed", home, flow_dir)
    _wait_for(flow_dir / "sleepy.pid", proc)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    pid = int((flow_dir / "sleepy.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    run = Client().runs(pipeline="timed")[0]
    assert run.status == "cancelled"
    assert run.steps["sleepy"].status == "cancelled"


def test_resume_refuses_a_completed_run(home: Path, flow_dir: Path) -> None:
    run = reliable_flow.crashable()
    with pytest.raises(HeadraceError, match="only a failed, crashed or cancelled run"):
        Client().resume(run)
