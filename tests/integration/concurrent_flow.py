"""A small pipeline run by many processes at once (used by test_concurrency.py)."""

from __future__ import annotations

import sys
from typing import Annotated

from headrace import pipeline, step


@step
def numbers(seed: int) -> Annotated[list[int], "numbers"]:
    return [seed * 1000 + i for i in range(50)]


@step
def total(numbers: list[int]) -> Annotated[int, "total"]:
    return sum(numbers)


@pipeline
def concurrent(seed: int = 0) -> None:
    total(numbers(seed=seed))


if __name__ == "__main__":
    worker, runs = int(sys.argv[1]), int(sys.argv[2])
    for i in range(runs):
        seed = worker * 100 + i
        run = concurrent(seed=seed)
        value = run.steps["total"].outputs["total"].load()
        assert value == sum(seed * 1000 + j for j in range(50)), (seed, value)
        print(run.id, seed, value, flush=True)
