"""Prediction latency as a measurement: percentiles per batch size, recorded where a
promotion gate (``"p99_ms <= 20"``) can read them."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from headrace.errors import HeadraceError

PERCENTILES = (50, 95, 99)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def summarize_ms(samples_s: Sequence[float]) -> dict[str, float]:
    ordered = sorted(s * 1000.0 for s in samples_s)
    result = {f"p{q}_ms": round(percentile(ordered, q), 4) for q in PERCENTILES}
    result["mean_ms"] = round(sum(ordered) / len(ordered), 4) if ordered else math.nan
    result["samples"] = len(ordered)
    return result


def measure_latency(
    model: Any,
    sample: Any,
    batch_sizes: Sequence[int] = (1, 32),
    *,
    repeats: int = 200,
    warmup: int = 10,
    method: str = "predict",
    version: Any = None,
) -> dict[str, dict[str, float]]:
    """Time ``model.<method>`` on batches cut from ``sample`` (a DataFrame or a list of
    rows) and return ``{"<batch size>": {"p50_ms", "p95_ms", "p99_ms", "mean_ms",
    "samples"}}``.

    The result is recorded as the ``latency`` metadata of a model version: of
    ``version`` when given (a :class:`~headrace.models.registry.ModelVersion`), else,
    inside a running step, of the version the pipeline's run registers. ``model`` may
    itself be a ModelVersion, which is then loaded and recorded on.
    """
    if hasattr(model, "load") and hasattr(model, "log_metadata") and version is None:
        version, model = model, model.load()
    predict = getattr(model, method, None)
    if not callable(predict):
        raise HeadraceError(f"{type(model).__name__} has no method '{method}' to time")
    if repeats < 1 or warmup < 0:
        raise HeadraceError("repeats must be >= 1 and warmup >= 0")
    sizes = [int(b) for b in batch_sizes]
    if not sizes or any(b < 1 for b in sizes):
        raise HeadraceError(f"batch sizes must be positive integers, got {list(batch_sizes)}")
    rows = len(sample)
    if rows == 0:
        raise HeadraceError("measure_latency needs a non-empty sample")
    take = _slicer(sample)

    results: dict[str, dict[str, float]] = {}
    for size in sizes:
        batches = [take(i * size % rows, size) for i in range(min(repeats, 64))]
        for i in range(warmup):
            predict(batches[i % len(batches)])
        samples = []
        for i in range(repeats):
            batch = batches[i % len(batches)]
            started = time.perf_counter()
            predict(batch)
            samples.append(time.perf_counter() - started)
        results[str(size)] = summarize_ms(samples)

    if version is not None:
        # Merged per batch size in the store, under a lock: not from this (maybe stale) copy.
        version.log_metadata({"latency": results})
    else:
        _record_in_step(results)
    return results


def _slicer(sample: Any) -> Any:
    iloc = getattr(sample, "iloc", None)
    rows = len(sample)
    if iloc is not None:

        def take_frame(start: int, size: int) -> Any:
            if start + size <= rows:
                return iloc[start : start + size]
            # Wrap around as often as needed, so a batch always has ``size`` rows even
            # when the sample is smaller than the batch.
            return iloc[[(start + i) % rows for i in range(size)]]

        return take_frame

    def take_rows(start: int, size: int) -> Any:
        return [sample[(start + i) % rows] for i in range(size)]

    return take_rows


def _record_in_step(results: dict[str, dict[str, float]]) -> None:
    from headrace.runner.context import _current, log_metadata

    ctx = _current.get()
    if ctx is None:
        return
    existing = ctx.step_metadata.get("latency")
    merged = {**existing, **results} if isinstance(existing, dict) else results
    log_metadata({"latency": merged})
