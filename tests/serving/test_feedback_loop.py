"""The whole loop with real processes: train and register, promote through gates, serve
with uvicorn in a child process, normal then shifted traffic, a monitoring run that finds
drift, retrains and promotes, and the server switching without a failed request."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from models.helpers import REPO, assert_one_line_error, cli_env, headrace

from .http import free_port, request

EXAMPLE = REPO / "examples" / "feedback_loop.py"
FEATURES = ("tenure_months", "monthly_spend", "support_calls")


def _rows(shift: float, n: int, seed: int) -> list[dict[str, Any]]:
    sys.path.insert(0, str(EXAMPLE.parent))
    try:
        import feedback_loop
    finally:
        sys.path.remove(str(EXAMPLE.parent))
    frame = feedback_loop.customers(n, seed, shift)
    return [
        {"tenure_months": float(r[0]), "monthly_spend": float(r[1]), "support_calls": int(r[2])}
        for r in frame[list(FEATURES)].itertuples(index=False)
    ]


class Server:
    def __init__(self, home: Path, target: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "headrace.cli",
                "serve",
                target,
                "--port",
                str(self.port),
                "--poll",
                "0.2",
                "--log-interval",
                "0.3",
            ],
            env=cli_env(home),
            cwd=home.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.process.communicate()[1]
            try:
                if request(f"{self.url}/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.1)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.communicate()[1]


@pytest.mark.slow
def test_serve_detect_drift_retrain_promote_and_switch(tmp_path: Path) -> None:
    home = tmp_path / "home"
    trained = headrace("run", f"{EXAMPLE}:training", "--json", home=home)
    assert trained.code == 0, str(trained)
    promoted = headrace(
        "models",
        "promote",
        "churn@latest",
        "--to",
        "production",
        "--require",
        "accuracy >= 0.6",
        "--require",
        "p99_ms <= 50",
        "--json",
        home=home,
    )
    assert promoted.code == 0, str(promoted)
    v1 = promoted.json()["model_version_id"]

    server = Server(home, "churn@production")
    try:
        for record in _rows(0.0, 150, seed=100):
            status, answer = request(f"{server.url}/predict", record)
            assert status == 200 and answer["model_version_id"] == v1, answer
        for record in _rows(1.5, 250, seed=101):
            assert request(f"{server.url}/predict", record)[0] == 200

        failures: list[Any] = []
        seen: list[str] = []
        stop = threading.Event()
        shifted = _rows(1.5, 200, seed=102)

        def traffic() -> None:
            i = 0
            while not stop.is_set():
                status, answer = request(f"{server.url}/predict", shifted[i % len(shifted)])
                i += 1
                if status != 200:
                    failures.append(answer)
                else:
                    seen.append(answer["model_version_id"])

        sender = threading.Thread(target=traffic)
        time.sleep(0.8)  # the server writes its log every 0.3 s
        sender.start()
        monitored = headrace(
            "run",
            f"{EXAMPLE}:monitoring",
            "-p",
            f"pipeline={EXAMPLE}:training",
            "-p",
            'retrain={"shift": 1.5, "seed": 9}',
            "-p",
            "logs=50",
            # A latency budget with room for the load this test puts on 2 cores itself.
            "-p",
            'gates=["accuracy >= 0.6", "p99_ms <= 50"]',
            "--json",
            home=home,
            timeout=240,
        )
        assert monitored.code == 0, str(monitored)
        deadline = time.monotonic() + 30
        while request(f"{server.url}/health")[1]["version"] != 2:
            assert time.monotonic() < deadline, "the server did not switch"
            time.sleep(0.1)
        time.sleep(0.5)
        stop.set()
        sender.join()
        assert not failures
        shown = headrace("models", "show", "churn@production", "--json", home=home).json()
        v2 = shown["id"]
        assert shown["version"] == 2 and seen[0] == v1 and seen[-1] == v2
        assert seen.index(v2) > 0 and v1 not in seen[seen.index(v2) :]
        _, metrics = request(f"{server.url}/metrics")
        assert (
            f'version_id="{v2}"' in metrics
            and 'headrace_model_swaps_total{model="churn"} 1' in metrics
        )
    finally:
        stderr = server.stop()
    assert "Traceback" not in stderr, stderr

    # what the monitoring run found and did
    report = headrace("artifacts", "show", "drift_report", "--json", home=home)
    assert report.code == 0, str(report)
    history = headrace("models", "history", "churn", "--json", home=home).json()
    assert [(h["version"], h["previous_version"]) for h in history] == [(2, 1), (1, None)]
    assert "retrained after drift" in history[0]["reason"]

    # a logged prediction of the new version traces back to the data that trained it
    code = """
import json
from headrace import Client
c = Client()
v2 = c.model("churn").version(2)
logs = [a for a in c.artifacts("inference_log") if a.metadata["model_version_id"] == v2.id]
rows = sum(len(a.load()) for a in logs)
reached = {a.id for a in c.lineage(logs[0]).upstream().artifacts}
print(json.dumps([rows, v2.artifacts["train"].id in reached, v2.model_artifact.id in reached,
                  c.model("churn").version(1).artifacts["train"].id in reached,
                  c.artifact("retraining").load(), c.artifact("drift_report").load().verdict]))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], env=cli_env(home), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    rows, reaches_data, reaches_model, reaches_old, retraining, verdict = json.loads(done.stdout)
    assert rows > 0 and reaches_data and reaches_model and not reaches_old
    assert verdict == "drift"
    assert retraining["retrained"] and retraining["promoted"] and retraining["version"] == 2


def test_serving_an_unknown_model_or_alias_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert_one_line_error(
        headrace("serve", "nope@production", home=home), 1, "no model named 'nope'"
    )
    assert_one_line_error(headrace("serve", "churn@", home=home), 1, "MODEL@ALIAS")
    assert os.path.exists(home / "headrace.db")
