"""The fixed cost of a whole `python chain.py` process running 10 trivial steps.

    .venv/bin/python bench/bench_process.py [--repeat 7] [--steps 10]

Each measurement is a separate process (median of ``--repeat``, modes interleaved):

- ``first run``: a fresh home, every step computes and stores;
- ``cached rerun``: the same home again, every step a cache hit;

each with the environment snapshot's distribution cache warm (the normal case: the
installed distributions did not change since the last run) and cold (an empty cache
folder, so the snapshot parses every installed distribution's metadata, as every run did
before the cache). The baseline is a bare ``python -c pass`` in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHAIN = """\
from typing import Annotated
from headrace import pipeline, step

@step
def start(n: int = 1) -> Annotated[int, "value"]:
    return n

@step
def add_one(value: int) -> Annotated[int, "value"]:
    return value + 1

@pipeline
def chain(n: int = 1):
    value = start(n=n)
    for _ in range({steps} - 1):
        value = add_one(value)

if __name__ == "__main__":
    chain()
"""


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{command} failed:\n{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="headrace-bench-process-"))
    script = work / "chain.py"
    script.write_text(CHAIN.format(steps=args.steps))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("HEADRACE_", "PYTHON"))}
    base_env["PYTHONPATH"] = str(ROOT / "src")
    warm_cache = work / "cache-warm"
    python = [sys.executable]
    timings: dict[str, list[float]] = {
        "python -c pass": [],
        "first run, snapshot cache warm": [],
        "cached rerun, snapshot cache warm": [],
        "first run, snapshot cache cold": [],
        "cached rerun, snapshot cache cold": [],
    }
    # Fill the warm cache once (not measured).
    timed(
        [*python, str(script)],
        {**base_env, "HEADRACE_HOME": str(work / "h0"), "HEADRACE_CACHE_DIR": str(warm_cache)},
        work,
    )
    try:
        for i in range(args.repeat):
            timings["python -c pass"].append(timed([*python, "-c", "pass"], base_env, work))
            for mode in ("warm", "cold"):
                home = work / f"home-{mode}-{i}"
                cache = warm_cache if mode == "warm" else work / f"cache-cold-{i}"
                env = {**base_env, "HEADRACE_HOME": str(home), "HEADRACE_CACHE_DIR": str(cache)}
                timings[f"first run, snapshot cache {mode}"].append(
                    timed([*python, str(script)], env, work)
                )
                if mode == "cold":
                    shutil.rmtree(cache, ignore_errors=True)
                timings[f"cached rerun, snapshot cache {mode}"].append(
                    timed([*python, str(script)], env, work)
                )
                if mode == "cold":
                    shutil.rmtree(cache, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    medians = {name: statistics.median(values) for name, values in timings.items()}
    baseline = medians["python -c pass"]
    if args.json:
        print(json.dumps({"repeat": args.repeat, "steps": args.steps, "median_s": medians}))
        return
    print(f"whole process, {args.steps} steps, median of {args.repeat}")
    for name, value in medians.items():
        print(f"  {name:<36} {value:6.3f} s  {value / baseline:5.1f}x python -c pass")
    for kind in ("first run", "cached rerun"):
        warm, cold = (
            medians[f"{kind}, snapshot cache warm"],
            medians[f"{kind}, snapshot cache cold"],
        )
        print(f"  {kind}: the warm cache saves {cold - warm:.3f} s ({warm / cold:.2f}x)")


if __name__ == "__main__":
    main()
