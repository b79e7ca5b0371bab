"""Single-row predictions per second of `headrace serve` (and of `mlflow models serve` on
the same model, if bench/.venvs/mlflow exists), from a load generator on loopback.

    .venv/bin/python bench/bench_serving.py [--duration 15] [--connections 4]

The model is the scikit-learn logistic regression of examples/feedback_loop.py. The
server and the load generator each run in their own process; the load generator keeps
``--connections`` HTTP/1.1 keep-alive connections busy for ``--duration`` seconds and
reports requests per second and latency percentiles (ms, from request written to
response read). Results are printed and written to bench/results/serving.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
MLFLOW_VENV = REPO / "bench" / ".venvs" / "mlflow"
ROW = {"tenure_months": 12.5, "monthly_spend": 71.3, "support_calls": 2}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env.update(
        HEADRACE_HOME=str(home),
        PYTHONPATH=str(REPO / "src"),
        MLFLOW_DISABLE_TELEMETRY="true",
        NO_COLOR="1",
    )
    return env


def prepare(home: Path) -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(REPO / 'examples')!r})\n"
        "import feedback_loop\n"
        "from headrace import Client\n"
        "feedback_loop.training()\n"
        "Client().model('churn').promote('latest', to='production', require=set(feedback_loop.GATES))\n"
    )
    subprocess.run([PYTHON, "-c", code], env=env_for(home), check=True, capture_output=True)


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# -- the load generator (runs in its own process) --------------------------------------------
async def _connection(
    port: int, request: bytes, until: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def _load(
    port: int, path: str, body: bytes, connections: int, duration: float
) -> dict[str, Any]:
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    warm: list[float] = []
    await asyncio.gather(
        *(
            _connection(port, request, time.perf_counter() + 2.0, warm, [])
            for _ in range(connections)
        )
    )
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    until = started + duration
    await asyncio.gather(
        *(_connection(port, request, until, latencies, errors) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000, 2)

    return {
        "requests": len(latencies),
        "errors": len(errors),
        "seconds": round(elapsed, 2),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
    }


def load_generator(
    port: int, path: str, body: bytes, connections: int, duration: float
) -> dict[str, Any]:
    """Run the load in a child process, so it does not share a GIL with anything."""
    code = (
        f"import asyncio, json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import bench_serving as b\n"
        f"print(json.dumps(asyncio.run(b._load({port}, {path!r}, {body!r}, {connections}, {duration}))))\n"
    )
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# -- the servers -------------------------------------------------------------------------------
def bench_headrace(home: Path, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    process = subprocess.Popen(
        [PYTHON, "-m", "headrace.cli", "serve", "churn@production", "--port", str(port)],
        env=env_for(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/health", process)
        body = json.dumps({"records": [ROW]}).encode()
        return load_generator(port, "/predict", body, args.connections, args.duration)
    finally:
        stop(process)


def bench_mlflow(home: Path, args: argparse.Namespace) -> dict[str, Any] | None:
    mlflow = MLFLOW_VENV / "bin" / "mlflow"
    if not mlflow.exists():
        return None
    folder = home.parent / "mlflow-model"
    subprocess.run(
        [
            PYTHON,
            "-m",
            "headrace.cli",
            "models",
            "export",
            "churn@production",
            "--format",
            "mlflow",
            "-o",
            str(folder),
        ],
        env=env_for(home),
        check=True,
        capture_output=True,
    )
    port = free_port()
    env = env_for(home)
    env["PATH"] = f"{MLFLOW_VENV / 'bin'}:{env.get('PATH', '')}"
    process = subprocess.Popen(
        [
            str(mlflow),
            "models",
            "serve",
            "-m",
            str(folder),
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            "1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/ping", process, timeout=180)
        body = json.dumps({"dataframe_records": [ROW]}).encode()
        return load_generator(port, "/invocations", body, args.connections, args.duration)
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="headrace-bench-serving-"))
    try:
        home = folder / "home"
        prepare(home)
        results: dict[str, Any] = {
            "cores": os.cpu_count(),
            "connections": args.connections,
            "duration_s": args.duration,
            "headrace": bench_headrace(home, args),
        }
        mlflow = None if args.no_mlflow else bench_mlflow(home, args)
        if mlflow is not None:
            results["mlflow"] = mlflow
            results["rps_ratio_headrace_over_mlflow"] = round(
                results["headrace"]["rps"] / max(mlflow["rps"], 0.001), 2
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    out = REPO / "bench" / "results" / "serving.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"{'server':<10} {'rps':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name in ("headrace", "mlflow"):
        if name in results:
            r = results[name]
            print(
                f"{name:<10} {r['rps']:>8} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['p99_ms']:>8} {r['errors']:>7}"
            )
    if "rps_ratio_headrace_over_mlflow" in results:
        print(f"headrace / mlflow requests per second: {results['rps_ratio_headrace_over_mlflow']}")


if __name__ == "__main__":
    main()
