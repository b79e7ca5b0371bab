"""Many processes running pipelines against one store at once: nothing lost, nothing
doubled, no lock error, and how fast.

    .venv/bin/python bench/concurrency.py --backend sqlite --processes 32 --runs 10
    .venv/bin/python bench/concurrency.py --backend postgres --processes 64 --runs 10

``--processes`` worker processes start, import headrace, and wait at a barrier; then all
of them run the ``contention`` pipeline ``--runs`` times against one home (one artifact
folder, and one SQLite file or one fresh PostgreSQL database). The store is empty when
the barrier opens, so the first runs also race to create the schema. Each run is six
steps: ``source`` fans out to four invocations of ``part`` (two outputs each, so four
writers of the same two artifact names inside every run) that ``combine`` joins: ten
artifact versions and six step runs per run, caching off.

Afterwards a fresh client reconciles what the workers reported with what the store holds:

- runs: exactly the ids the workers printed, each ``completed`` with its own parameters;
- step runs: six per run, each ``completed``, with its outputs;
- artifact versions: the expected number per name, numbered exactly 1..K, each produced
  by one of these runs, its bytes present; ``combined`` of every run loads to the value
  the worker computed;
- the schema was created by exactly one process;
- no worker failed or printed a lock, deadlock or connection error.

Reports throughput (runs per second from the barrier to the last exit), run latency
(p50, p99, max), the latency of the step-completion commit (p50, p99, max), and the
transient database errors that were retried inside the store. ``--backend postgres``
creates a database on ``--postgres-url`` (default postgres@127.0.0.1:5432) and drops it
afterwards. Exits 1 if anything did not reconcile.
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
from typing import Annotated, Any

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
sys.path.insert(0, str(SRC))

from headrace import pipeline, step  # noqa: E402

PIPELINE = "contention"
PARTS = 4
STEPS = ("source", *(f"part_{k}" if k > 1 else "part" for k in range(1, PARTS + 1)), "combine")
VERSIONS_PER_RUN = {"items": 1, "part_sum": PARTS, "part_items": PARTS, "combined": 1}
ERROR_MARKERS = ("locked", "deadlock", "too many clients", "traceback", "error")
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


# -- the pipeline ---------------------------------------------------------------------------


@step(cache=False)
def source(seed: int, size: int = 400) -> Annotated[list[int], "items"]:
    return [(seed * 7919 + i * 104729) % 1_000_003 for i in range(size)]


@step(cache=False)
def part(
    items: list[int], index: int
) -> tuple[Annotated[int, "part_sum"], Annotated[list[int], "part_items"]]:
    mine = items[index::PARTS]
    return sum(mine), sorted(mine)


@step(cache=False)
def combine(a: int, b: int, c: int, d: int) -> Annotated[dict[str, int], "combined"]:
    return {"total": a + b + c + d, "largest": max(a, b, c, d)}


@pipeline
def contention(seed: int = 0) -> None:
    items = source(seed=seed)
    sums = [part(items, index=k)[0] for k in range(PARTS)]
    combine(*sums)


def expected_combined(seed: int) -> dict[str, int]:
    items = source(seed=seed)
    sums = [part(items, index=k)[0] for k in range(PARTS)]
    return combine(*sums)


# -- a worker process ---------------------------------------------------------------------


def worker(index: int, runs: int, go: Path) -> None:
    """Wait for the barrier, run the pipeline ``runs`` times, print one JSON line per run
    and a last line with the commit latencies and retries of this process."""
    from headrace.home import resolve_settings
    from headrace.store.metadata.store import SqlMetadataStore as MetadataStore
    from headrace.store.stores import open_stores

    commits: list[float] = []
    real = MetadataStore.finish_step_run

    def timed(self: MetadataStore, step_run_id: str, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return real(self, step_run_id, **kwargs)
        finally:
            commits.append(time.perf_counter() - started)

    MetadataStore.finish_step_run = timed  # type: ignore[method-assign]
    print(json.dumps({"ready": index}), flush=True)
    deadline = time.monotonic() + 600
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("the barrier never opened")
        time.sleep(0.01)
    for i in range(runs):
        seed = index * 1000 + i
        started = time.perf_counter()
        run = contention(seed=seed)
        latency = time.perf_counter() - started
        print(json.dumps({"run": run.id, "seed": seed, "latency": latency}), flush=True)
    metadata = open_stores(resolve_settings()).metadata
    db = metadata._db
    print(
        json.dumps(
            {
                "commits": commits,
                "retries": db.retries,
                "schema_action": metadata._schema_action,
            }
        ),
        flush=True,
    )


# -- the harness ------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _libpq(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(server: str) -> tuple[str, str]:
    """A fresh database on ``server``; (its name, its SQLAlchemy URL)."""
    import psycopg
    from sqlalchemy import make_url

    name = f"headrace_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(server), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server).set(drivername="postgresql+psycopg", database=name)
    return name, url.render_as_string(hide_password=False)


def drop_database(server: str, name: str) -> None:
    import psycopg

    for attempt in range(30):
        try:
            with psycopg.connect(_libpq(server), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.OperationalError:
            if attempt == 29:
                raise
            time.sleep(1)


def connections(admin: Any, name: str) -> int:
    """Connections open to database ``name`` now."""
    row = admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)
    ).fetchone()
    return int(row[0]) if row else 0


def launch(args: argparse.Namespace, env: dict[str, str], go: Path) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                str(w),
                "--runs",
                str(args.runs),
                "--go",
                str(go),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for w in range(args.processes)
    ]


def reconcile(settings: Any, reported: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    """What does not add up between the workers' reports and the store."""
    from headrace import Client

    problems: list[str] = []
    client = Client(settings=settings)
    total = args.processes * args.runs
    ids = [r["run"] for r in reported]
    if len(ids) != total or len(set(ids)) != total:
        problems.append(f"workers reported {len(ids)} runs ({len(set(ids))} distinct), not {total}")
    runs = client.runs(pipeline=PIPELINE)
    stored = {r.id: r for r in runs}
    if len(runs) != len(stored):
        problems.append("a run is listed twice")
    if set(stored) != set(ids):
        lost = len(set(ids) - set(stored))
        extra = len(set(stored) - set(ids))
        problems.append(
            f"{lost} reported runs are not stored and {extra} stored runs were not reported"
        )
    seeds = {r["run"]: r["seed"] for r in reported}
    produced_by: dict[str, str] = {}
    step_runs = 0
    for run_id, run in stored.items():
        if run.status != "completed":
            problems.append(f"run {run_id[:12]} is {run.status}")
        if run_id in seeds and run.parameters != {"seed": seeds[run_id]}:
            problems.append(f"run {run_id[:12]} has parameters {run.parameters}")
        steps = run.steps
        step_runs += len(steps)
        if sorted(steps) != sorted(STEPS):
            problems.append(f"run {run_id[:12]} has steps {sorted(steps)}")
        for name, step_run in steps.items():
            if step_run.status != "completed" or step_run.cache_hit:
                problems.append(f"step {name} of {run_id[:12]} is {step_run.status}")
            want = 1 if name in ("source", "combine") else 2
            if len(step_run.record.outputs) != want:
                problems.append(
                    f"step {name} of {run_id[:12]} has {len(step_run.record.outputs)} outputs"
                )
            for version_id in step_run.record.outputs.values():
                if version_id in produced_by:
                    problems.append(f"artifact version {version_id} is the output of two step runs")
                produced_by[version_id] = step_run.id
    versions_total = 0
    store = client.stores.artifacts
    for name, per_run in VERSIONS_PER_RUN.items():
        versions = client.artifacts(name=name)
        versions_total += len(versions)
        numbers = sorted(v.version for v in versions)
        if numbers != list(range(1, per_run * total + 1)):
            problems.append(
                f"artifact {name!r} has {len(numbers)} versions numbered "
                f"{numbers[:3]}...{numbers[-3:]}, not 1..{per_run * total}"
            )
        for version in versions:
            if version.producer_run_id not in stored:
                problems.append(f"{name} v{version.version} was produced by an unknown run")
            if version.id not in produced_by:
                problems.append(f"{name} v{version.version} is no step run's output")
            if not store.has(version.hash):
                problems.append(f"{name} v{version.version} points at missing bytes")
            if name == "combined":
                seed = stored[version.producer_run_id].parameters["seed"]
                if version.load() != expected_combined(seed):
                    problems.append(f"combined of seed {seed} has the wrong value")
    if versions_total != len(produced_by):
        problems.append(f"{versions_total} artifact versions but {len(produced_by)} step outputs")
    return problems


def bench(args: argparse.Namespace) -> dict[str, Any]:
    from headrace.home import StoreSettings
    from headrace.store.stores import close_stores

    workdir = Path(tempfile.mkdtemp(prefix="headrace-concurrency-"))
    home = workdir / "home"
    go = workdir / "go"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env["PYTHONPATH"] = str(SRC)
    env["HEADRACE_HOME"] = str(home)
    database = None
    metadata_url = f"sqlite:///{home / 'headrace.db'}"
    if args.backend == "postgres":
        database, metadata_url = create_database(args.postgres_url)
        env["HEADRACE_METADATA_URL"] = metadata_url
    settings = StoreSettings(metadata_url=metadata_url, artifact_uri=str(home / "artifacts"))
    report: dict[str, Any] = {
        "backend": args.backend,
        "processes": args.processes,
        "runs": args.runs,
    }
    admin = None
    procs: list[subprocess.Popen[str]] = []
    try:
        if database is not None:
            import psycopg

            # Opened before the workers start: it watches how many connections they hold.
            admin = psycopg.connect(_libpq(args.postgres_url), autocommit=True)
        launched = time.monotonic()
        procs = launch(args, env, go)
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line.startswith('{"ready"'):
                raise RuntimeError(f"a worker did not start: {line!r} {proc.communicate()[1]}")
        startup = time.monotonic() - launched
        opened = time.monotonic()
        go.touch()
        peak = 0
        if admin is not None and database is not None:
            while any(p.poll() is None for p in procs):
                peak = max(peak, connections(admin, database))
                time.sleep(0.1)
            admin.close()
        outputs = [p.communicate(timeout=3600) for p in procs]
        wall = time.monotonic() - opened

        reported: list[dict[str, Any]] = []
        commits: list[float] = []
        retries = created = 0
        failures: list[str] = []
        for proc, (out, err) in zip(procs, outputs, strict=True):
            lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
            reported += [line for line in lines if "run" in line]
            for line in lines:
                if "commits" in line:
                    commits += line["commits"]
                    retries += line["retries"]
                    created += line["schema_action"] == "created"
            if proc.returncode != 0 or any(m in err.lower() for m in ERROR_MARKERS):
                failures.append(f"exit {proc.returncode}: {err.strip()[-500:]}")
        latencies = [r["latency"] for r in reported]
        problems = [f"worker {f}" for f in failures]
        if created != 1:
            problems.append(f"the schema was created {created} times, not once")
        problems += reconcile(settings, reported, args)
        close_stores()
        total = args.processes * args.runs
        report.update(
            {
                "runs_total": total,
                "runs_reported": len(reported),
                "step_runs": total * len(STEPS),
                "artifact_versions": total * sum(VERSIONS_PER_RUN.values()),
                "wall_seconds": round(wall, 2),
                "startup_seconds": round(startup, 2),
                "throughput_runs_per_s": round(len(reported) / wall, 2) if wall else 0.0,
                "step_completions_per_s": round(len(commits) / wall, 1) if wall else 0.0,
                "run_latency_s": {
                    "p50": round(percentile(latencies, 0.5), 3),
                    "p99": round(percentile(latencies, 0.99), 3),
                    "max": round(max(latencies, default=0.0), 3),
                    "mean": round(statistics.fmean(latencies), 3) if latencies else 0.0,
                },
                "step_commit_s": {
                    "p50": round(percentile(commits, 0.5), 4),
                    "p99": round(percentile(commits, 0.99), 4),
                    "max": round(max(commits, default=0.0), 4),
                },
                "retried_transient_errors": retries,
                "lock_errors_surfaced": sum(
                    any(m in f.lower() for m in ("locked", "deadlock", "too many clients"))
                    for f in failures
                ),
                "failed_workers": len(failures),
                "schema_created": created,
                "peak_connections": peak if database is not None else None,
                "problems": len(problems),
                "problem_list": problems[:50],
            }
        )
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if admin is not None and not admin.closed:
            admin.close()
        if database is not None:
            drop_database(args.postgres_url, database)
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--processes", type=int, default=8, help="worker processes (8)")
    parser.add_argument("--runs", type=int, default=5, help="runs per worker (5)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("HEADRACE_BENCH_POSTGRES_URL", DEFAULT_SERVER),
        help="server to create the database on (postgres@127.0.0.1:5432)",
    )
    parser.add_argument("--json", dest="json_path", help="also write the report here")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--go", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        worker(args.worker, args.runs, args.go)
        return 0
    if args.processes < 1 or args.runs < 1:
        parser.error("--processes and --runs must be at least 1")
    report = bench(args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json_path:
        Path(args.json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_path).write_text(text + "\n")
    return 0 if report["problems"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
