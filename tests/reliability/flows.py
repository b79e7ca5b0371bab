"""Pipelines for the fault tests. Steps are module-level, so that a resumed run and a
child process can import them. ``transform`` obeys marker files in the folder named by
$FLOW_DIR: while ``hold`` exists it announces itself (``transform.started``) and waits;
while ``fail`` exists it raises."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np

from headrace import pipeline, step


def _flow_dir() -> Path | None:
    folder = os.environ.get("FLOW_DIR")
    return Path(folder) if folder else None


@step
def produce(n: int = 20_000, seed: int = 0) -> Annotated[np.ndarray, "values"]:
    return np.random.default_rng(seed).normal(size=n)


@step
def transform(
    values: np.ndarray,
) -> tuple[Annotated[np.ndarray, "scaled"], Annotated[dict[str, Any], "stats"]]:
    folder = _flow_dir()
    if folder is not None and (folder / "fail").exists():
        raise RuntimeError("told to fail")
    if folder is not None and (folder / "hold").exists():
        (folder / "transform.started").write_text(str(os.getpid()))
        deadline = time.monotonic() + 60
        while (folder / "hold").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    scaled = (values - values.mean()) / values.std()
    return scaled, {"n": len(values), "mean": float(values.mean())}


@step
def report(scaled: np.ndarray, stats: dict[str, Any]) -> Annotated[dict[str, Any], "report"]:
    return {"n": stats["n"], "max": float(scaled.max()), "min": float(scaled.min())}


@pipeline
def faulty(n: int = 20_000, seed: int = 0) -> None:
    scaled, stats = transform(produce(n=n, seed=seed))
    report(scaled, stats)


def expected(n: int = 20_000, seed: int = 0) -> dict[str, Any]:
    """Every output of ``faulty(n, seed)``, from the plain functions."""
    values = produce(n=n, seed=seed)
    scaled, stats = transform(values)
    return {"values": values, "scaled": scaled, "stats": stats, "report": report(scaled, stats)}


@step(timeout=60.0)
def guarded(seconds: float = 30.0) -> Annotated[float, "slept"]:
    """A step with a timeout runs in a process of its own; this one announces its pid."""
    folder = _flow_dir()
    if folder is not None:
        (folder / "guarded.pid").write_text(str(os.getpid()))
    time.sleep(seconds)
    return seconds


@pipeline
def guarded_flow(seconds: float = 30.0) -> None:
    guarded(seconds=seconds)
