"""B4 for headrace: three steps passing a pandas DataFrame of 1,000,000 rows x 10 float
columns: make -> transform (adds a column) -> summarize. Each output is stored by the
framework and read back by the next step."""

from __future__ import annotations

import json
import time
from typing import Annotated

import numpy as np
import pandas as pd

from headrace import pipeline, step

ROWS = 1_000_000
COLS = 10


@step
def make(rows: int = ROWS, cols: int = COLS, seed: int = 0) -> Annotated[pd.DataFrame, "frame"]:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.random((rows, cols)), columns=[f"c{i}" for i in range(cols)])


@step
def transform(frame: pd.DataFrame) -> Annotated[pd.DataFrame, "wider"]:
    return frame.assign(total=frame.sum(axis=1))


@step
def summarize(wider: pd.DataFrame) -> Annotated[dict[str, float], "summary"]:
    return {"rows": len(wider), "cols": wider.shape[1], "total_mean": float(wider["total"].mean())}


@pipeline
def dataframe(rows: int = ROWS, cols: int = COLS, seed: int = 0) -> None:
    summarize(transform(make(rows=rows, cols=cols, seed=seed)))


if __name__ == "__main__":
    start = time.perf_counter()
    run = dataframe()
    seconds = time.perf_counter() - start
    summary = run.steps["summarize"].outputs["summary"].load()
    print("BENCH_RESULT " + json.dumps({"pipeline_seconds": seconds, **summary}))
