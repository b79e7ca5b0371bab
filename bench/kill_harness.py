"""Kill -9 campaign: start a pipeline run in a child process, SIGKILL it, check, repeat.

    .venv/bin/python bench/kill_harness.py --kills 200 --json bench/results/kill.json
    .venv/bin/python bench/kill_harness.py --kills 8 --rows 10000     # a quick look

Each round starts ``bench/faults/kill_flow.py``'s five-step pipeline (DataFrames and
numpy arrays of a few MB) in a fresh process with a new seed, and kills it with SIGKILL:

- most rounds at a random moment after the run is recorded, uniform over 1.1 times the
  run's duration (measured by an uninterrupted calibration run), so kills land in steps,
  in artifact writes, in metadata commits, and now and then after the end; a few
  (``--early-share``) before it is recorded, while the stores open and the environment
  snapshot is taken;
- the others (``--point-share``) at a named point, chosen in turn, at a random
  occurrence: half-way through a temp file, before a data file's rename, before and after
  a manifest's rename, inside a metadata COMMIT, right after a step's commit, and just
  before the run's final status (see ``bench/faults/kill_points.py``); the last kill is
  always right after a step's commit, so there is a crashed run with finished and
  unfinished steps to resume.

After every kill a fresh client in this process checks, and counts as a violation
anything that breaks a promise of docs/reliability.md:

- the killed run is ``crashed`` (``completed`` if the kill came after its end), and no
  run at all is left ``running``;
- every step run recorded as completed has every output, and each loads, verifies
  against its content hash and equals what the step must compute for that seed;
- a step run that is not completed points at no output;
- every object with a manifest verifies file by file, ``has()`` is false for every
  partial object, and no artifact version points at a missing or partial object;
- the SQLite file passes ``PRAGMA integrity_check``.

At the end the newest crashed runs are resumed: each must complete, reuse exactly the
steps that had completed, rerun the rest, and produce the same bytes (content hashes) as
an uninterrupted run with the same seed. Then ``gc`` must remove every leftover (temp
files, partial and unreferenced objects) and leave every referenced object intact.
Prints a summary and writes the counts as JSON; exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# One BLAS thread here and in every child (numpy is not imported yet): the same bytes
# from every process, whatever the machine.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
FAULTS = REPO / "bench" / "faults"
sys.path[:0] = [str(SRC), str(FAULTS)]

import kill_flow  # noqa: E402
from kill_points import POINTS  # noqa: E402

from headrace import Client  # noqa: E402
from headrace.errors import HeadraceError  # noqa: E402
from headrace.store.artifacts import MANIFEST_SUFFIX, ArtifactStore  # noqa: E402
from headrace.store.stores import close_stores  # noqa: E402

PIPELINE = "killable"
STEPS = ("generate", "featurize", "profile", "fit", "evaluate")
REAP_WAIT_S = 5.0


# -- the child process ------------------------------------------------------------------


def _child_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(FAULTS)])
    env["HEADRACE_HOME"] = str(home)
    return env


@dataclass
class Child:
    proc: subprocess.Popen[str]
    ready_at: float

    @classmethod
    def start(cls, home: Path, seed: int, rows: int, point: str, log: Path) -> Child:
        with open(log, "w") as err:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import kill_flow; kill_flow.child()",
                    str(home),
                    str(seed),
                    str(rows),
                    point,
                ],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=_child_env(home),
            )
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if line != "ready":
            proc.kill()
            proc.wait()
            raise RuntimeError(f"the child did not start: {line!r}\n{log.read_text()}")
        return cls(proc, time.monotonic())

    def wait_started(self) -> float | None:
        """Block until the child says its run is recorded; when, or None if it died."""
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        return time.monotonic() if line == "started" else None

    def finish(self, timeout: float) -> tuple[int, str | None, dict[str, int]]:
        """Wait for the end; (exit code, run id it printed, call counts it printed)."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        self.proc.stdout.close()
        for line in out.splitlines():
            if line.startswith("done "):
                _, run_id, counts = line.split(" ", 2)
                return self.proc.returncode, run_id, json.loads(counts)
        return self.proc.returncode, None, {}


@dataclass(frozen=True)
class CleanRun:
    run_id: str
    before_start: float  # seconds from "ready" to the run's record
    run: float  # seconds from the run's record to its end
    counts: dict[str, int]  # how often each kill point was passed


def clean_run(home: Path, seed: int, rows: int, log: Path, point: str = "none") -> CleanRun:
    """An uninterrupted run, timed."""
    child = Child.start(home, seed, rows, point, log)
    started = child.wait_started()
    assert child.proc.stdout is not None
    done = child.proc.stdout.readline().strip()  # "done RUN_ID COUNTS" once the run ends
    ended = time.monotonic()
    code, _, _ = child.finish(timeout=600)
    if code != 0 or started is None or not done.startswith("done "):
        raise RuntimeError(f"the clean run failed (exit {code}):\n{log.read_text()}")
    _, run_id, counts = done.split(" ", 2)
    return CleanRun(run_id, started - child.ready_at, ended - started, json.loads(counts))


# -- the checks ---------------------------------------------------------------------------


def object_groups(store: ArtifactStore) -> dict[str, bool]:
    """Every object folder or manifest in the store: hash -> whether a manifest exists."""
    found: dict[str, bool] = {}
    for entry in store.backend.list_files("objects"):
        parts = entry.key.split("/")
        if len(parts) < 3:
            continue
        name = parts[2]
        if len(parts) == 3 and name.endswith(MANIFEST_SUFFIX):
            found[name.removesuffix(MANIFEST_SUFFIX)] = True
        else:
            found.setdefault(name, False)
    return found


@dataclass
class Checker:
    home: Path
    rows: int
    violations: list[str] = field(default_factory=list)
    verified: set[str] = field(default_factory=set)  # objects whose every file verified
    known_runs: set[str] = field(default_factory=set)
    steps_verified: int = 0
    outputs_verified: int = 0
    reap_waits: int = 0
    _expected: dict[int, dict[str, Any]] = field(default_factory=dict)

    def fail(self, message: str) -> None:
        self.violations.append(message)

    def expected(self, seed: int) -> dict[str, Any]:
        if seed not in self._expected:
            self._expected = {seed: kill_flow.expected(seed, self.rows)}
        return self._expected[seed]

    def client(self) -> Client:
        close_stores()  # fresh handles, as a new process would have
        return Client(home=self.home)

    def runs_after_reaping(self) -> list[Any]:
        """Every run, once none is ``running`` (the reaper is throttled to once a second
        per process, so give it a few seconds before calling a run stuck)."""
        deadline = time.monotonic() + REAP_WAIT_S
        while True:
            runs = self.client().runs(pipeline=PIPELINE)
            stuck = [r for r in runs if r.status == "running"]
            if not stuck:
                return runs
            if time.monotonic() > deadline:
                for run in stuck:
                    self.fail(f"run {run.id[:12]} is still running after its process died")
                return runs
            self.reap_waits += 1
            time.sleep(0.5)

    def after_kill(self, seed: int, exit_code: int) -> tuple[str, dict[str, int]]:
        """Check everything; return the killed run's outcome and the garbage found."""
        runs = self.runs_after_reaping()
        new = [r for r in runs if r.id not in self.known_runs]
        self.known_runs.update(r.id for r in runs)
        if len(new) > 1:
            self.fail(f"one child made {len(new)} runs")
        outcome = "not_started"
        if new:
            run = new[0]
            outcome = run.status
            if run.parameters != {"seed": seed, "rows": self.rows}:
                self.fail(f"run {run.id[:12]} has parameters {run.parameters}")
            if run.status not in ("crashed", "completed"):
                self.fail(f"killed run {run.id[:12]} ended {run.status!r}")
            if exit_code == 0 and run.status != "completed":
                self.fail(f"run {run.id[:12]} is {run.status} though its process exited cleanly")
            self.check_steps(run, seed)
        elif exit_code == 0:
            self.fail("the child exited cleanly but no run was recorded")
        return outcome, self.check_store()

    def check_steps(self, run: Any, seed: int) -> None:
        steps = run.steps
        if run.status == "completed" and set(steps) != set(STEPS):
            self.fail(f"completed run {run.id[:12]} has steps {sorted(steps)}")
        for name, step in steps.items():
            if step.status == "completed":
                self.check_outputs(run, step, seed)
            elif step.status == "crashed":
                if step.record.outputs:
                    self.fail(f"crashed step {name} of {run.id[:12]} has outputs")
            else:
                self.fail(f"step {name} of {run.id[:12]} ended {step.status!r}")

    def check_outputs(self, run: Any, step: Any, seed: int) -> None:
        wanted = {o for o, producer in kill_flow.PRODUCERS.items() if producer == step.name}
        if set(step.record.outputs) != wanted:
            self.fail(
                f"completed step {step.name} of {run.id[:12]} has outputs "
                f"{sorted(step.record.outputs)}, not {sorted(wanted)}"
            )
            return
        expected = self.expected(seed)
        for output, artifact in step.outputs.items():
            try:
                value = artifact.load()  # verifies every byte against the content hash
            except HeadraceError as exc:
                self.fail(f"output {output} of completed step {step.name}: {exc}")
                continue
            if not kill_flow.same_value(expected[output], value):
                self.fail(
                    f"output {output} of {run.id[:12]} differs from what {step.name} computes"
                )
            self.outputs_verified += 1
        self.steps_verified += 1

    def check_store(self) -> dict[str, int]:
        client = self.client()
        stores = client.stores
        store = stores.artifacts
        groups = object_groups(store)
        partial = set()
        for content_hash, has_manifest in groups.items():
            if content_hash in self.verified:
                continue
            if store.has(content_hash):
                try:
                    store.fetch(content_hash, verify=True)
                except HeadraceError as exc:
                    self.fail(f"has() is true for object {content_hash[:12]} but: {exc}")
                    continue
                self.verified.add(content_hash)
            else:
                partial.add(content_hash)
                if has_manifest:
                    # A manifest whose files are not all there: only a torn write does that.
                    self.fail(f"object {content_hash[:12]} has a manifest but is incomplete")
        referenced = stores.metadata.referenced_hashes()
        for content_hash in sorted(referenced - self.verified):
            self.fail(
                f"an artifact version points at missing or partial object {content_hash[:12]}"
            )
        self.verified -= self.verified - set(groups)  # gc may have removed some
        self.check_sqlite()
        temp = len(store.backend.list_files("tmp"))
        unreferenced = len(self.verified - referenced)
        return {
            "partial_objects": len(partial),
            "temp_files": temp,
            "unreferenced_objects": unreferenced,
        }

    def check_sqlite(self) -> None:
        database = self.home / "headrace.db"
        if not database.exists():
            return
        conn = sqlite3.connect(database)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
        if result != "ok":
            self.fail(f"SQLite integrity_check: {result}")


# -- resume and gc ------------------------------------------------------------------------


def resume_and_compare(
    checker: Checker, run: Any, workdir: Path, log: Path
) -> tuple[bool, int, int]:
    """Resume ``run``; (ok, steps reused, steps rerun)."""
    before = len(checker.violations)
    seed = int(run.parameters["seed"])
    completed = {n: s.record.outputs for n, s in run.steps.items() if s.status == "completed"}
    client = checker.client()
    try:
        resumed = client.resume(run.id)
    except HeadraceError as exc:
        checker.fail(f"resuming {run.id[:12]} failed: {exc}")
        return False, 0, 0
    checker.known_runs.add(resumed.id)
    if resumed.status != "completed" or resumed.origin_run_id != run.id:
        checker.fail(f"resumed run {resumed.id[:12]} is {resumed.status}")
    reused = rerun = 0
    for name, step in resumed.steps.items():
        if name in completed:
            if not step.cache_hit or step.record.outputs != completed[name]:
                checker.fail(f"resume of {run.id[:12]} did not reuse completed step {name}")
            reused += 1
        else:
            if step.cache_hit:
                checker.fail(f"resume of {run.id[:12]} did not rerun unfinished step {name}")
            rerun += 1
        checker.check_outputs(resumed, step, seed)
    # Byte for byte what an uninterrupted run with the same seed stores.
    reference_home = workdir / f"reference-{seed}"
    reference_id = clean_run(reference_home, seed, checker.rows, log).run_id
    reference = Client(home=reference_home).run(reference_id)
    want = {o: a.hash for s in reference.steps.values() for o, a in s.outputs.items()}
    got = {o: a.hash for s in resumed.steps.values() for o, a in s.outputs.items()}
    if want != got:
        differ = sorted(o for o in want if want[o] != got.get(o))
        checker.fail(f"resumed run {resumed.id[:12]} differs from a clean run in {differ}")
    shutil.rmtree(reference_home, ignore_errors=True)
    return len(checker.violations) == before, reused, rerun


def collect_garbage(checker: Checker) -> dict[str, int]:
    client = checker.client()
    stores = client.stores
    referenced = stores.metadata.referenced_hashes()
    report = stores.artifacts.gc(referenced, dry_run=False, grace_seconds=0)
    left = checker.check_store()
    if left["temp_files"] or left["partial_objects"] or left["unreferenced_objects"]:
        checker.fail(f"gc left garbage behind: {left}")
    groups = object_groups(stores.artifacts)
    if set(groups) != referenced:
        checker.fail("after gc the objects in the store are not exactly the referenced ones")
    return {
        "temp_removed": len(report.temporary),
        "objects_removed": len(report.unreferenced),
        "bytes_freed": report.bytes_freed,
    }


# -- the campaign ----------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def campaign(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="headrace-kill-"))
    workdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "home"
    log = workdir / "child.log"
    rng = random.Random(args.seed)
    started = time.monotonic()

    # Calibration: how long a run takes, and how often each kill point is passed.
    calibration = clean_run(workdir / "calibration", args.seed - 1, args.rows, log, "count")
    shutil.rmtree(workdir / "calibration", ignore_errors=True)
    run_seconds, counts = calibration.run, calibration.counts

    checker = Checker(home=home, rows=args.rows)
    outcomes = {"crashed": 0, "completed": 0, "not_started": 0}
    killed_by: dict[str, int] = {"random": 0, "random-early": 0, **dict.fromkeys(POINTS, 0)}
    not_reached = exited = 0
    garbage_seen = {"partial_objects": 0, "temp_files": 0}
    per_kill: list[float] = []
    check_times: list[float] = []
    for i in range(args.kills):
        t0 = time.monotonic()
        seed = args.seed + i
        if i == args.kills - 1:
            # The last kill always leaves finished and unfinished steps behind, so the
            # resume at the end has something to reuse and something to rerun.
            name = "after-step-commit"
            point = f"{name}:{rng.randint(1, max(1, counts.get(name, 2) - 1))}"
        elif rng.random() < args.point_share:
            name = POINTS[i % len(POINTS)]
            point = f"{name}:{rng.randint(1, max(1, counts.get(name, 1)))}"
        elif rng.random() < args.early_share:
            name, point = "random-early", "none"
        else:
            name, point = "random", "none"
        child = Child.start(home, seed, args.rows, point, log)
        if name.startswith("random"):
            if name == "random-early":
                since, delay = child.ready_at, rng.uniform(0, calibration.before_start)
            else:
                since, delay = child.wait_started(), rng.uniform(0, 1.1 * run_seconds)
            if since is not None:
                try:
                    child.proc.wait(timeout=max(0.0, delay - (time.monotonic() - since)))
                except subprocess.TimeoutExpired:
                    child.proc.send_signal(signal.SIGKILL)
        code, _, _ = child.finish(timeout=60 + 10 * run_seconds)
        if code == -signal.SIGKILL:
            killed_by[name] += 1
        elif code == 0:
            if name.startswith("random"):
                exited += 1
            else:
                not_reached += 1
        else:
            checker.fail(f"kill {i}: the child exited with {code}:\n{log.read_text()[-2000:]}")
        t1 = time.monotonic()
        before = len(checker.violations)
        outcome, left = checker.after_kill(seed, code)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        for key in garbage_seen:
            garbage_seen[key] = max(garbage_seen[key], left[key])
        check_times.append(time.monotonic() - t1)
        per_kill.append(time.monotonic() - t0)
        if len(checker.violations) > before:
            shutil.copy(log, workdir / f"child-{i}.log")
        if not args.quiet:
            print(
                f"kill {i + 1:>4}/{args.kills}  {point:<26} exit {code:>3}  -> {outcome:<11} "
                f"{per_kill[-1]:5.2f}s  violations {len(checker.violations)}",
                flush=True,
            )

    # Resume the newest crashed runs that got somewhere.
    crashed = [
        r
        for r in checker.client().runs(pipeline=PIPELINE, status="crashed")
        if r.origin_run_id is None and any(s.status == "completed" for s in r.steps.values())
    ][: args.resumes]
    resumes_ok = reused = rerun = 0
    for run in crashed:
        ok, n_reused, n_rerun = resume_and_compare(checker, run, workdir, log)
        resumes_ok += ok
        reused += n_reused
        rerun += n_rerun

    # Everything once more from scratch, then garbage collection.
    checker.verified.clear()
    final = checker.check_store()
    gc = collect_garbage(checker)
    total = time.monotonic() - started
    report = {
        "kills": args.kills,
        "rows": args.rows,
        "seed": args.seed,
        "seconds_before_the_run_is_recorded": round(calibration.before_start, 3),
        "run_seconds": round(run_seconds, 3),
        "outcomes": outcomes,
        "killed_by": killed_by,
        "exited_before_the_kill": exited,
        "kill_point_not_reached": not_reached,
        "steps_verified": checker.steps_verified,
        "outputs_verified": checker.outputs_verified,
        "objects_verified": len(checker.verified),
        "garbage_before_gc": {**final},
        "gc": gc,
        "reaper_waits": checker.reap_waits,
        "invariant_violations": len(checker.violations),
        "violations": checker.violations[:50],
        "resumes": {
            "attempted": len(crashed),
            "ok": resumes_ok,
            "steps_reused": reused,
            "steps_rerun": rerun,
        },
        "time_per_kill_s": {
            "mean": round(statistics.fmean(per_kill), 3) if per_kill else 0.0,
            "p50": round(percentile(per_kill, 0.5), 3),
            "p95": round(percentile(per_kill, 0.95), 3),
            "max": round(max(per_kill, default=0.0), 3),
        },
        "check_seconds_mean": round(statistics.fmean(check_times), 3) if check_times else 0.0,
        "total_seconds": round(total, 1),
        "workdir": str(workdir),
    }
    if not args.keep and not checker.violations:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=200, help="how many runs to kill (200)")
    parser.add_argument("--rows", type=int, default=40_000, help="rows of the generated table")
    parser.add_argument("--seed", type=int, default=1, help="seed of the first run and the dice")
    parser.add_argument(
        "--point-share",
        type=float,
        default=0.35,
        help="share of kills at a named kill point instead of a random moment (0.35)",
    )
    parser.add_argument(
        "--early-share",
        type=float,
        default=0.1,
        help="share of random kills before the run is recorded (0.1)",
    )
    parser.add_argument("--resumes", type=int, default=3, help="crashed runs to resume (3)")
    parser.add_argument("--workdir", help="where the home lives (default: a new temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the workdir afterwards")
    parser.add_argument("--json", dest="json_path", help="also write the report here")
    parser.add_argument("--quiet", action="store_true", help="no line per kill")
    args = parser.parse_args(argv)
    if args.kills < 1:
        parser.error("--kills must be at least 1")
    report = campaign(args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json_path:
        Path(args.json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_path).write_text(text + "\n")
    ok = (
        report["invariant_violations"] == 0
        and report["resumes"]["ok"] == report["resumes"]["attempted"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
