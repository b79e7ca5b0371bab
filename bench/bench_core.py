"""Core engine overheads, each against a baseline measured in the same run.

    .venv/bin/python bench/bench_core.py [--steps 10] [--repeat 5] [--mb 100]

- per-step overhead of a linear pipeline of small steps, cold (every step computes and
  stores) and warm (every step a cache hit), against calling the plain functions;
- storing and loading a large numpy array as an artifact, against np.save / np.load of
  the same array to the same disk (the artifact path adds hashing and verification).
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
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mb", type=int, default=100)
    args = parser.parse_args()

    import numpy as np

    from headrace import pipeline, step

    @step
    def first(seed: int) -> Annotated[dict[str, Any], "value"]:
        return {"values": list(range(seed, seed + 100))}

    @step
    def grow(value: dict[str, Any]) -> Annotated[dict[str, Any], "value"]:
        return {"values": [v + 1 for v in value["values"]]}

    @pipeline
    def chain(seed: int = 0) -> None:
        value = first(seed=seed)
        for _ in range(args.steps - 1):
            value = grow(value)

    @step
    def make_array(mb: int) -> Annotated[Any, "array"]:
        return np.random.default_rng(0).random(mb * 1024 * 1024 // 8)

    @step
    def use_array(array: Any) -> Annotated[float, "total"]:
        return float(array[::4096].sum())

    @pipeline
    def arrays(mb: int = 100) -> None:
        use_array(make_array(mb=mb))

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HEADRACE_HOME"] = str(Path(tmp) / "home")

        plain, cold, warm = [], [], []
        for i in range(args.repeat):
            start = time.perf_counter()
            value = first.func(seed=1000 + i)
            for _ in range(args.steps - 1):
                value = grow.func(value)
            plain.append(time.perf_counter() - start)
            start = time.perf_counter()
            chain(seed=1000 + i)
            cold.append(time.perf_counter() - start)
            start = time.perf_counter()
            run = chain(seed=1000 + i)
            warm.append(time.perf_counter() - start)
            assert all(s.cache_hit for s in run.steps.values())
        results["pipeline"] = {
            "steps": args.steps,
            "plain_functions_s": round(statistics.median(plain), 5),
            "cold_run_s": round(statistics.median(cold), 4),
            "cached_run_s": round(statistics.median(warm), 4),
            "cold_ms_per_step": round(1000 * statistics.median(cold) / args.steps, 2),
            "cached_ms_per_step": round(1000 * statistics.median(warm) / args.steps, 2),
        }

        array = np.random.default_rng(0).random(args.mb * 1024 * 1024 // 8)
        path = Path(tmp) / "baseline.npy"
        save_base, load_base, run_times, load_times = [], [], [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            np.save(path, array)
            save_base.append(time.perf_counter() - start)
            start = time.perf_counter()
            np.load(path).sum()
            load_base.append(time.perf_counter() - start)
            path.unlink()
            start = time.perf_counter()
            run = arrays.with_options(cache=False)(mb=args.mb)
            run_times.append(time.perf_counter() - start)
            artifact = run.steps["make_array"].outputs["array"]
            start = time.perf_counter()
            artifact.load().sum()
            load_times.append(time.perf_counter() - start)
        results["array_artifact"] = {
            "megabytes": args.mb,
            "np_save_s": round(statistics.median(save_base), 4),
            "np_load_s": round(statistics.median(load_base), 4),
            "pipeline_store_and_reload_s": round(statistics.median(run_times), 4),
            "artifact_load_verified_s": round(statistics.median(load_times), 4),
            "load_ratio_to_np_load": round(
                statistics.median(load_times) / statistics.median(load_base), 2
            ),
        }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
