"""B2/B3 for ZenML: ten steps in a line; each takes the previous step's dict of 100
ints and returns a new one. Run twice on the same store (ZENML_CONFIG_PATH): the first
run computes every step, the second should be all cached (caching is on by default)."""

from __future__ import annotations

import json
import time
from typing import Annotated

from zenml import pipeline, step

N_KEYS = 100


@step
def s01(n: int = N_KEYS) -> Annotated[dict[str, int], "d01"]:
    return {f"k{i:03d}": i for i in range(n)}


@step
def s02(d: dict[str, int]) -> Annotated[dict[str, int], "d02"]:
    return {k: v + 1 for k, v in d.items()}


@step
def s03(d: dict[str, int]) -> Annotated[dict[str, int], "d03"]:
    return {k: v + 1 for k, v in d.items()}


@step
def s04(d: dict[str, int]) -> Annotated[dict[str, int], "d04"]:
    return {k: v + 1 for k, v in d.items()}


@step
def s05(d: dict[str, int]) -> Annotated[dict[str, int], "d05"]:
    return {k: v + 1 for k, v in d.items()}


@step
def s06(d: dict[str, int]) -> Annotated[dict[str, int], "d06"]:
    return {k: v + 1 for k, v in d.items()}


@step
def s07(d: dict[str, int]) -> Annotated[dict[str, int], "d07"]:
    return {k: v + 1 for k, v in d.items()}


@step
def s08(d: dict[str, int]) -> Annotated[dict[str, int], "d08"]:
    return {k: v + 1 for k, v in d.items()}


@step
def s09(d: dict[str, int]) -> Annotated[dict[str, int], "d09"]:
    return {k: v + 1 for k, v in d.items()}


@step
def s10(d: dict[str, int]) -> Annotated[dict[str, int], "d10"]:
    return {k: v + 1 for k, v in d.items()}


@pipeline
def linear(n: int = N_KEYS) -> None:
    d = s01(n=n)
    d = s02(d)
    d = s03(d)
    d = s04(d)
    d = s05(d)
    d = s06(d)
    d = s07(d)
    d = s08(d)
    d = s09(d)
    s10(d)


if __name__ == "__main__":
    start = time.perf_counter()
    response = linear()
    seconds = time.perf_counter() - start

    from zenml.client import Client
    from zenml.enums import ExecutionStatus

    run = Client().get_pipeline_run(response.id)
    final = run.steps["s10"].outputs["d10"][0].load()
    result = {
        "pipeline_seconds": seconds,
        "steps": len(run.steps),
        "cache_hits": sum(1 for s in run.steps.values() if s.status == ExecutionStatus.CACHED),
        "check": sum(final.values()),
    }
    print("BENCH_RESULT " + json.dumps(result))
