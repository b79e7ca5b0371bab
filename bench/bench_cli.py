"""CLI and query latency on large stores, each against a baseline measured in the same run.

    .venv/bin/python bench/bench_cli.py [--runs 10000] [--artifacts 100000] [--repeat 7]

Targets (issue "front door"): `headrace --help` <= 0.2 s, `headrace runs list` on a store
with 10,000 runs <= 0.3 s, `headrace lineage` on a store with 100,000 artifact versions
<= 0.1 s. Command timings are wall-clock medians of whole processes; the baseline is a
bare `python -c pass` (interpreter start), so `ratio` is how many interpreter starts a
command costs. Query timings are in-process medians (a warm Client), which is what the
0.1 s lineage target is about: the process start alone is ~0.02-0.05 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def seed(home: Path, n_runs: int, n_artifacts: int) -> str:
    """Fill a SQLite store directly (bulk inserts): ``n_runs`` runs with one step run each,
    and ``n_artifacts`` artifact versions in chains of 10 steps, each step reading the
    previous step's output. Returns the name of the deepest artifact of the last chain."""
    import sqlalchemy as sa

    from headrace.store.metadata._schema import (
        artifact_versions,
        environments,
        runs,
        step_io,
        step_runs,
    )
    from headrace.store.metadata.store import SqlMetadataStore as MetadataStore

    home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{home / 'headrace.db'}"
    MetadataStore.open(url).close()  # creates the schema the normal way
    engine = sa.create_engine(url)
    now = time.time()
    env_hash = "e" * 64
    chain = 10
    n_steps = max(n_runs, n_artifacts)
    run_rows, step_rows, artifact_rows, io_rows = [], [], [], []
    run_ids = [uuid.uuid4().hex for _ in range(n_runs)]
    for i, run_id in enumerate(run_ids):
        run_rows.append(
            {
                "id": run_id,
                "pipeline": f"pipeline_{i % 20}",
                "status": "completed" if i % 17 else "failed",
                "parameters": {"i": i},
                "spec": {},
                "environment_hash": env_hash,
                "created_at": now - n_runs + i,
                "started_at": now - n_runs + i,
                "ended_at": now - n_runs + i + 0.5,
            }
        )
    previous = None
    for i in range(n_steps):
        step_id = uuid.uuid4().hex
        run_id = run_ids[(i // chain) % n_runs]
        step_rows.append(
            {
                "id": step_id,
                "run_id": run_id,
                "name": f"step_{i % chain}",
                "status": "completed",
                "cache_key": uuid.uuid4().hex,
                "cache_hit": False,
                "cache_components": {},
                "attempts": 1,
                "started_at": now,
                "ended_at": now,
            }
        )
        if i < n_artifacts:
            artifact_id = uuid.uuid4().hex
            artifact_rows.append(
                {
                    "id": artifact_id,
                    "name": f"data_{i % chain}",
                    "version": i // chain + 1,
                    "hash": uuid.uuid4().hex * 2,
                    "uri": "file:///x",
                    "type": "builtins.list",
                    "materializer": "json",
                    "size": 10,
                    "metadata": {},
                    "created_at": now,
                    "producer_step_run_id": step_id,
                    "producer_run_id": run_id,
                }
            )
            io_rows.append(
                {
                    "step_run_id": step_id,
                    "artifact_version_id": artifact_id,
                    "direction": "output",
                    "name": f"data_{i % chain}",
                }
            )
            if previous is not None and i % chain:
                io_rows.append(
                    {
                        "step_run_id": step_id,
                        "artifact_version_id": previous,
                        "direction": "input",
                        "name": "upstream",
                    }
                )
            previous = artifact_id
    with engine.begin() as conn:
        conn.execute(sa.insert(environments), [{"hash": env_hash, "data": {}, "created_at": now}])
        for table, rows in (
            (runs, run_rows),
            (step_runs, step_rows),
            (artifact_versions, artifact_rows),
            (step_io, io_rows),
        ):
            for start in range(0, len(rows), 5000):
                conn.execute(sa.insert(table), rows[start : start + 5000])
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return f"data_{(n_artifacts - 1) % chain}"


def time_command(args: list[str], env: dict[str, str], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(args, env=env, capture_output=True, text=True)
        samples.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed: {proc.stderr}")
    return statistics.median(samples)


def time_call(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--artifacts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        started = time.perf_counter()
        leaf = seed(home, args.runs, args.artifacts)
        seeded = time.perf_counter() - started
        env = {**os.environ, "HEADRACE_HOME": str(home), "PYTHONPATH": str(ROOT / "src")}
        cli = [sys.executable, "-m", "headrace.cli"]
        baseline = time_command([sys.executable, "-c", "pass"], env, args.repeat)
        results = {
            "help": time_command([*cli, "--help"], env, args.repeat),
            "runs_list": time_command([*cli, "runs", "list"], env, args.repeat),
            "lineage": time_command([*cli, "lineage", leaf, "--upstream"], env, args.repeat),
        }

        os.environ["HEADRACE_HOME"] = str(home)
        from headrace import Client

        client = Client()
        artifact = client.artifact(leaf)
        upstream = client.lineage(artifact).upstream()
        assert len(upstream) == 9, len(upstream)  # a chain of 10: nine artifacts upstream
        in_process = {
            "runs(limit=50)": time_call(lambda: client.runs(limit=50), args.repeat),
            "lineage upstream": time_call(lambda: client.lineage(artifact).upstream(), args.repeat),
            "lineage downstream (root)": time_call(
                lambda: client.lineage(client.artifact("data_0")).downstream(), args.repeat
            ),
        }

    report = {
        "store": {
            "runs": args.runs,
            "artifact_versions": args.artifacts,
            "seed_seconds": round(seeded, 1),
        },
        "baseline_python_start_s": round(baseline, 4),
        "commands_s": {k: round(v, 4) for k, v in results.items()},
        "ratio_to_python_start": {k: round(v / baseline, 1) for k, v in results.items()},
        "in_process_s": {k: round(v, 4) for k, v in in_process.items()},
    }
    print(json.dumps(report, indent=2))
    targets = {"help": 0.2, "runs_list": 0.3}
    for name, limit in targets.items():
        print(
            f"{name}: {results[name]:.3f}s (target <= {limit}s) {'OK' if results[name] <= limit else 'MISSED'}"
        )
    lineage = in_process["lineage upstream"]
    print(
        f"lineage (in-process): {lineage:.4f}s (target <= 0.1s) {'OK' if lineage <= 0.1 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
