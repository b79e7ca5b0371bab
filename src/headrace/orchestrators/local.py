"""Run a pipeline in this process, independent steps in parallel threads."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from headrace.errors import ConfigError, StepError
from headrace.home import StoreSettings
from headrace.runner.isolation import cancel_children, run_step_isolated
from headrace.runner.liveness import Heartbeat
from headrace.runner.runs import finish_run, start_run
from headrace.runner.step_runner import Reuse, StepResult, run_step
from headrace.runner.stores import Stores, open_stores
from headrace.spec.dag import downstream_of
from headrace.spec.types import PipelineSpec


class LocalOrchestrator:
    """Steps run in a bounded thread pool (``max_parallel``, default: CPU count, at most 4).

    Threads share the process's open stores; a step's own heavy work (numpy, pandas,
    scikit-learn) releases the GIL, so independent branches overlap. A step with a
    ``timeout`` runs in a child process that is killed when the time is up.
    """

    def __init__(self, max_parallel: int | None = None) -> None:
        if max_parallel is not None and (
            not isinstance(max_parallel, int) or isinstance(max_parallel, bool) or max_parallel < 1
        ):
            raise ConfigError(f"max_parallel must be a positive integer, got {max_parallel!r}")
        self.max_parallel = max_parallel or min(4, os.cpu_count() or 1)

    def run(
        self,
        spec: PipelineSpec,
        settings: StoreSettings,
        *,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        origin_run_id: str | None = None,
        reuse: Mapping[str, Reuse] | None = None,
    ) -> str:
        stores = open_stores(settings)
        run_id = start_run(stores, spec, origin_run_id=origin_run_id)
        try:
            with Heartbeat(stores, [run_id]):
                failures = self._execute(
                    spec, settings, stores, run_id, functions or {}, reuse or {}
                )
        except BaseException as exc:
            status = "failed" if isinstance(exc, Exception) else "cancelled"
            finish_run(stores, run_id, status=status, error=f"{type(exc).__name__}: {exc}")
            raise
        if failures:
            first = next(name for name in spec.order() if name in failures)
            finish_run(stores, run_id, status="failed", error=str(failures[first]))
            raise failures[first]
        finish_run(stores, run_id, status="completed")
        return run_id

    def _execute(
        self,
        spec: PipelineSpec,
        settings: StoreSettings,
        stores: Stores,
        run_id: str,
        functions: Mapping[str, Callable[..., Any]],
        reuse: Mapping[str, Reuse],
    ) -> dict[str, StepError]:
        upstream = spec.upstream
        results: dict[str, StepResult] = {}
        failures: dict[str, StepError] = {}
        running: dict[Future[StepResult], str] = {}
        pending = spec.order()

        def submit(pool: ThreadPoolExecutor, name: str) -> None:
            step = spec.step(name)
            inputs = {arg: results[b.step].outputs[b.output] for arg, b in step.inputs.items()}
            if step.options.timeout is not None and name not in reuse:
                future = pool.submit(
                    run_step_isolated,
                    spec,
                    name,
                    settings,
                    run_id,
                    inputs,
                    timeout=step.options.timeout,
                )
            else:
                future = pool.submit(
                    run_step,
                    spec,
                    name,
                    settings,
                    run_id,
                    inputs,
                    function=functions.get(name),
                    reuse=reuse.get(name),
                )
            running[future] = name

        pool = ThreadPoolExecutor(max_workers=self.max_parallel, thread_name_prefix="headrace-step")
        try:
            while pending or running:
                for name in [n for n in pending if all(p in results for p in upstream[n])]:
                    if len(running) >= self.max_parallel:
                        break
                    pending.remove(name)
                    submit(pool, name)
                if not running:
                    break  # everything left waits on a failed step
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    name = running.pop(future)
                    error = future.exception()
                    if error is None:
                        results[name] = future.result()
                        continue
                    if not isinstance(error, StepError):
                        raise error
                    failures[name] = error
                    for lost in downstream_of(upstream, [name]):
                        if lost in pending:
                            pending.remove(lost)
                            stores.metadata.record_skipped_step(
                                run_id=run_id,
                                name=lost,
                                reason=f"upstream step '{name}' failed",
                                at=time.time(),
                            )
        except BaseException:
            # Ctrl-C or a store failure: start nothing new. Steps in threads finish their
            # current call; steps in child processes are killed by their runner.
            pool.shutdown(wait=False, cancel_futures=True)
            cancel_children(run_id)
            raise
        pool.shutdown(wait=True)
        return failures
