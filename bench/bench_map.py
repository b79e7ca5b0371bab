"""Dynamic map overheads, each against a baseline measured in the same run.

    .venv/bin/python bench/bench_map.py [--elements 1000] [--plan 10000] [--repeat 3]

- per-element cost of a map of trivial steps (``square.map(numbers)``, every element a
  step run with its own cache key, outputs and records), against the per-step cost of a
  linear chain of the same trivial step, run on the same stack;
- planning a map of ``--plan`` elements: from the list artifact being ready to every
  element decided (cache keys computed, hits looked up in batches), timed inside the
  scheduler on a fully cached rerun, against the whole rerun.

Prints one JSON object; docs/benchmarks.md records the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--elements", type=int, default=1000)
    parser.add_argument("--plan", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ["HEADRACE_HOME"] = tempfile.mkdtemp(prefix="headrace-bench-map-")

    from headrace import pipeline, step
    from headrace.runner import scheduler as scheduler_module

    @step
    def numbers(n: int) -> Annotated[list[int], "numbers"]:
        return list(range(n))

    @step
    def square(x: int) -> Annotated[int, "square"]:
        return x * x

    @step
    def seed(start: int) -> Annotated[int, "value"]:
        return start

    @step
    def bump(x: int) -> Annotated[int, "value"]:
        return x + 1  # as trivial as square, and stays small along a chain

    @pipeline
    def mapped(n: int = 10) -> None:
        square.map(numbers(n=n))

    @pipeline
    def chain(start: int = 0, length: int = 10) -> None:
        value = seed(start=start)
        for _ in range(length - 1):
            value = bump(value)

    chain_len = min(args.elements, 200)
    map_times: list[float] = []
    chain_times: list[float] = []
    for i in range(args.repeat):
        started = time.perf_counter()
        chain(start=10_000 + i, length=chain_len)
        chain_times.append((time.perf_counter() - started) / chain_len)
        started = time.perf_counter()
        mapped(n=args.elements + i)  # +i: a new list, so every element computes again... mostly
        map_times.append((time.perf_counter() - started) / (args.elements + i))

    # Planning a large map: time _plan_map + the batch lookup on a cached rerun.
    planned: list[float] = []
    real_plan = scheduler_module.Scheduler._plan

    def timed_plan(self: Any, name: str, nodes: Any) -> Any:
        started = time.perf_counter()
        units = real_plan(self, name, nodes)
        if name == "square":
            planned.append(time.perf_counter() - started)
        return units

    mapped(n=args.plan)  # first run: compute every element
    scheduler_module.Scheduler._plan = timed_plan  # type: ignore[method-assign]
    try:
        started = time.perf_counter()
        mapped(n=args.plan)  # all cached: the plan is all there is
        rerun = time.perf_counter() - started
    finally:
        scheduler_module.Scheduler._plan = real_plan  # type: ignore[method-assign]

    per_element = statistics.median(map_times)
    per_step = statistics.median(chain_times)
    print(
        json.dumps(
            {
                "elements": args.elements,
                "map_ms_per_element": round(per_element * 1000, 2),
                "chain_ms_per_step": round(per_step * 1000, 2),
                "ratio_element_to_step": round(per_element / per_step, 2),
                "plan_elements": args.plan,
                "plan_s_cached_rerun": round(planned[0], 3) if planned else None,
                "cached_rerun_s": round(rerun, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
