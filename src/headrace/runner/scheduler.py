"""The one DAG scheduler: the driver plans, an orchestrator only executes.

For every run, on every engine, this loop resolves the spec, checks the cache, records
cached, reused (resume) and skipped steps, expands maps into elements, turns each step
that must run into a :class:`~headrace.runner.task.StepTask`, hands it to the
orchestrator's ``submit``, retries failed attempts, orders failures, keeps the
heartbeat and tells the hooks. A cached step never becomes a task.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any

from headrace import materializers
from headrace.errors import StepError, StoreError
from headrace.hashing import cache_key
from headrace.home import StoreSettings
from headrace.hooks import Hooks, RunEvent, StepEvent, registered_paths
from headrace.runner import cache
from headrace.runner.liveness import Heartbeat
from headrace.runner.runs import finish_run, start_run
from headrace.runner.task import StepTask
from headrace.spec.dag import downstream_of
from headrace.spec.types import InputBinding, PipelineSpec, StepSpec
from headrace.store.records import ArtifactVersionRecord, ReusedStepRun, StepRunRecord
from headrace.store.stores import Stores

log = logging.getLogger("headrace")


@dataclass(frozen=True, slots=True)
class Reuse:
    """Outputs of a step that completed in an earlier run, offered to a resumed run."""

    run_id: str
    outputs: dict[str, str]


@dataclass(frozen=True, slots=True)
class RunContext:
    """What an orchestrator is told when a run starts. ``stores`` and ``functions`` are
    the driver's own (a thread of the driver may use them; a remote engine ignores them)."""

    run_id: str
    settings: StoreSettings
    stores: Stores | None = None
    functions: Mapping[str, Callable[..., Any]] = field(default_factory=dict)


class RemoteStepFailure(Exception):
    """The user's exception, as text, when it was raised in another process."""

    def __init__(self, error_type: str, message: str, text: str, node: str | None) -> None:
        self.error_type = error_type
        self.node = node
        self.remote_traceback = text
        where = f" on {node}" if node else ""
        super().__init__(f"{message}{where}\n\nremote traceback:\n{text}")


class TaskLostError(Exception):
    """A task's process or node died before it could report (the engine says why)."""


@dataclass(slots=True)
class _Unit:
    """One step run to be: a step, or one element of a mapped step."""

    node: str
    name: str
    index: int | None
    inputs: dict[str, Any]  # for the task: name -> id or list of ids
    decision: cache.Decision
    step_run_id: str = ""
    split: bool = False  # the element is taken by index from a list input or parameter
    attempt: int = 1
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Node:
    outputs: dict[str, str] | None = None  # a plain step
    elements: list[dict[str, str] | None] = field(default_factory=list)  # a mapped step
    open_units: int = 0


class Scheduler:
    def __init__(
        self,
        spec: PipelineSpec,
        settings: StoreSettings,
        stores: Stores,
        orchestrator: Any,
        *,
        hooks: Hooks,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        reuse: Mapping[str, Reuse] | None = None,
        origin_run_id: str | None = None,
        stack: Mapping[str, Any] | None = None,
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.stores = stores
        self.orchestrator = orchestrator
        self.hooks = hooks
        self.functions = dict(functions or {})
        self.reuse = dict(reuse or {})
        self.origin_run_id = origin_run_id
        self.stack = dict(stack or {})
        self.submitted = 0  # tasks handed to the orchestrator (a cached step adds none)
        self._spec_dict = spec.to_dict()
        self._materializers = materializers.registrations()
        self._hook_paths = registered_paths()

    # -- the run --------------------------------------------------------------------------

    def run(self) -> str:
        """Run every step; return the run id. The StepError of the first failed step (in
        pipeline order) is raised after independent branches have finished."""
        stores = self.stores
        run_id = start_run(stores, self.spec, origin_run_id=self.origin_run_id, stack=self.stack)
        self.run_id = run_id
        event = RunEvent(
            run_id, self.spec.name, dict(self.spec.parameters), self.stack, time.time()
        )
        self.hooks.call("run_start", run=event)
        try:
            with Heartbeat(stores, [run_id]):
                self.orchestrator.open(
                    RunContext(run_id, self.settings, stores=stores, functions=self.functions)
                )
                try:
                    failures = self._loop()
                finally:
                    self.orchestrator.close()
        except BaseException as exc:
            status = "failed" if isinstance(exc, Exception) else "cancelled"
            error = f"{type(exc).__name__}: {exc}"
            finish_run(stores, run_id, status=status, error=error)
            self.hooks.call("run_end", run=event, status=status, error=error)
            raise
        if failures:
            first = next(name for name in self.spec.order() if name in failures)
            finish_run(stores, run_id, status="failed", error=str(failures[first]))
            self.hooks.call("run_end", run=event, status="failed", error=str(failures[first]))
            raise failures[first]
        finish_run(stores, run_id, status="completed")
        self.hooks.call("run_end", run=event, status="completed", error=None)
        return run_id

    def _loop(self) -> dict[str, StepError]:
        upstream = self.spec.upstream
        nodes: dict[str, _Node] = {}
        failures: dict[str, StepError] = {}
        pending = self.spec.order()
        queue: list[_Unit] = []  # ready to submit
        delayed: list[tuple[float, _Unit]] = []  # retries waiting for their delay
        running: dict[Future[dict[str, Any]], _Unit] = {}
        limit = getattr(self.orchestrator, "max_in_flight", None)

        def done(node: str) -> bool:
            state = nodes.get(node)
            return state is not None and state.open_units == 0 and node not in failures

        try:
            while pending or queue or delayed or running:
                # Plan every step whose upstream is done; a step that was all cache hits
                # is done at once, so look again until nothing new is ready.
                ready = [n for n in pending if all(done(p) for p in upstream[n])]
                while ready:
                    for name in ready:
                        pending.remove(name)
                        nodes[name] = _Node()
                        try:
                            units = self._plan(name, nodes)
                        except StepError as exc:
                            failures[name] = exc
                            self._skip_downstream(name, pending, upstream)
                            continue
                        queue.extend(units)
                    ready = [n for n in pending if all(done(p) for p in upstream[n])]
                now = time.monotonic()
                for due in [d for d in delayed if d[0] <= now]:
                    delayed.remove(due)
                    queue.append(due[1])
                while queue and (limit is None or len(running) < limit):
                    unit = queue.pop(0)
                    running[self._submit(unit)] = unit
                if not running:
                    if delayed:
                        time.sleep(max(0.0, min(d[0] for d in delayed) - time.monotonic()))
                        continue
                    if queue:
                        continue
                    break  # everything left waits on a failed step
                timeout = None
                if delayed:
                    timeout = max(0.0, min(d[0] for d in delayed) - time.monotonic())
                finished, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
                for future in finished:
                    unit = running.pop(future)
                    outcome = self._outcome(future)
                    if outcome.get("status") == "completed":
                        self._complete(unit, nodes, dict(outcome["outputs"]))
                        continue
                    retry_in = self._failed(unit, outcome)
                    if retry_in is not None:
                        delayed.append((time.monotonic() + retry_in, unit))
                        continue
                    if unit.node not in failures:
                        failures[unit.node] = self._error(unit, outcome)
                        self._skip_downstream(unit.node, pending, upstream)
                    nodes[unit.node].open_units -= 1
        except BaseException as exc:
            # Ctrl-C or a store failure: start nothing new, stop what runs, record it.
            self.orchestrator.cancel()
            for unit in [*running.values(), *queue, *(u for _, u in delayed)]:
                self._record_stopped(
                    unit,
                    "cancelled" if not isinstance(exc, Exception) else "failed",
                    f"the run stopped: {type(exc).__name__}: {exc}",
                )
            raise
        return failures

    # -- planning ---------------------------------------------------------------------------

    def _plan(self, name: str, nodes: dict[str, _Node]) -> list[_Unit]:
        """Decide a ready step: record cache hits and resume reuse, return what must run."""
        step = self.spec.step(name)
        inputs = self._input_ids(step, nodes)
        records = self._records(inputs)
        if step.map_over is None:
            parts = cache.components(step, self._resolve(inputs, records))
            units = [self._unit(step, name, None, inputs, parts)]
        else:
            units = self._plan_map(step, inputs, records, nodes[name])
        nodes[name].open_units = len(units)
        found = (
            self.stores.metadata.find_cached_step_runs([u.decision.key for u in units])
            if step.options.cache and units
            else {}
        )
        must_run: list[_Unit] = []
        reused: list[tuple[_Unit, dict[str, str], str]] = []
        hits: list[tuple[_Unit, StepRunRecord]] = []
        for unit in units:
            resumed = self.reuse.get(unit.name)
            if resumed is not None and cache.outputs_intact(self.stores, step, resumed.outputs):
                why = f"resumed: reused the outputs of run {resumed.run_id[:12]}"
                reused.append((unit, dict(resumed.outputs), why))
                continue
            hit = found.get(unit.decision.key)
            if hit is not None:
                hits.append((unit, hit))
            else:
                must_run.append(unit)
        intact = cache.all_intact(self.stores, step, [hit.outputs for _, hit in hits])
        for (unit, hit), ok in zip(hits, intact, strict=True):
            if ok and step.options.cache:
                reused.append((unit, dict(hit.outputs), cache.hit_reason(hit)))
            else:
                unit.decision = cache.decide(
                    self.stores,
                    self.spec,
                    step,
                    unit.decision.components,
                    found=hit,
                    explain=unit.index is None,
                    intact=ok,
                )
                must_run.append(unit)
        for unit in must_run:
            if not unit.decision.reason:
                unit.decision = cache.decide(
                    self.stores,
                    self.spec,
                    step,
                    unit.decision.components,
                    found=None,
                    explain=unit.index is None,
                )
        self._record_reused(reused, nodes)
        return must_run

    def _plan_map(
        self,
        step: StepSpec,
        inputs: dict[str, Any],
        records: dict[str, ArtifactVersionRecord],
        node: _Node,
    ) -> list[_Unit]:
        over = step.map_over
        assert over is not None
        source = inputs.get(over)
        resolved = self._resolve(inputs, records)
        if isinstance(source, list):
            # Element-wise over a mapped step's outputs: each element is a version already.
            elements = [(records[vid].hash, vid) for vid in source]
            split = False
        elif source is not None:
            items = self._load(records[source])
            if not isinstance(items, list | tuple):
                raise StepError(
                    f"map over '{over}' needs a list, but the step output it gets is a "
                    f"{type(items).__name__}",
                    step=step.name,
                    run_id=self.run_id,
                )
            elements = [
                (_fingerprint(item, records[source].hash, i), source)
                for i, item in enumerate(items)
            ]
            split = True
        else:
            items = step.parameters.get(over)
            if not isinstance(items, list):
                raise StepError(
                    f"map over '{over}' needs a list, got {type(items).__name__}",
                    step=step.name,
                    run_id=self.run_id,
                )
            elements = [(_fingerprint(item, "", i), None) for i, item in enumerate(items)]
            split = True
        node.elements = [None] * len(elements)
        units: list[_Unit] = []
        for index, (fingerprint, element_source) in enumerate(elements):
            unit_inputs = dict(inputs)
            if element_source is not None:
                unit_inputs[over] = element_source
            parts = cache.components(step, resolved, element=fingerprint)
            unit = self._unit(step, f"{step.name}[{index}]", index, unit_inputs, parts)
            unit.split = split
            units.append(unit)
        return units

    def _unit(
        self,
        step: StepSpec,
        name: str,
        index: int | None,
        inputs: dict[str, Any],
        parts: dict[str, Any],
    ) -> _Unit:
        decision = cache.Decision(cache_key(parts), parts, None, "")
        return _Unit(step.name, name, index, inputs, decision)

    def _input_ids(self, step: StepSpec, nodes: dict[str, _Node]) -> dict[str, Any]:
        def ids(binding: InputBinding) -> str | list[str]:
            state = nodes[binding.step]
            if binding.collect:
                return [element[binding.output] for element in state.elements if element]
            assert state.outputs is not None
            return state.outputs[binding.output]

        found: dict[str, Any] = {}
        for arg, binding in step.inputs.items():
            if isinstance(binding, tuple):
                found[arg] = [ids(b) for b in binding]
                if any(isinstance(v, list) for v in found[arg]):
                    found[arg] = [
                        x for v in found[arg] for x in (v if isinstance(v, list) else [v])
                    ]
            else:
                found[arg] = ids(binding)
        return found

    def _records(self, inputs: Mapping[str, Any]) -> dict[str, ArtifactVersionRecord]:
        wanted = [i for v in inputs.values() for i in (v if isinstance(v, list) else [v])]
        return self.stores.metadata.get_artifact_versions_by_ids(wanted) if wanted else {}

    @staticmethod
    def _resolve(
        inputs: Mapping[str, Any], records: Mapping[str, ArtifactVersionRecord]
    ) -> dict[str, ArtifactVersionRecord | Sequence[ArtifactVersionRecord]]:
        return {
            name: [records[i] for i in value] if isinstance(value, list) else records[value]
            for name, value in inputs.items()
        }

    def _load(self, record: ArtifactVersionRecord) -> Any:
        from headrace.runner.step_runner import load_artifact

        return load_artifact(self.stores, record)

    # -- recording ------------------------------------------------------------------------------

    def _create(self, unit: _Unit, reason: str = "") -> None:
        unit.step_run_id = uuid.uuid4().hex
        self.stores.metadata.create_step_run(
            step_run_id=unit.step_run_id,
            run_id=self.run_id,
            name=unit.name,
            started_at=time.time(),
            inputs=_flat_inputs(unit.inputs),
        )

    def _record_reused(
        self, reused: Sequence[tuple[_Unit, dict[str, str], str]], nodes: dict[str, _Node]
    ) -> None:
        """Record cache hits and resume reuse, all of one step in one transaction."""
        if not reused:
            return
        now = time.time()
        records: list[ReusedStepRun] = []
        for unit, outputs, reason in reused:
            unit.step_run_id = uuid.uuid4().hex
            metadata = {"map_index": unit.index} if unit.index is not None else {}
            unit.decision = cache.Decision(
                unit.decision.key, unit.decision.components, None, reason
            )
            records.append(
                ReusedStepRun(
                    step_run_id=unit.step_run_id,
                    name=unit.name,
                    inputs=_flat_inputs(unit.inputs),
                    outputs=outputs,
                    cache_key=unit.decision.key,
                    cache_components=unit.decision.components,
                    cache_reason=reason,
                    at=now,
                    metadata=metadata,
                )
            )
        self.stores.metadata.record_reused_steps(self.run_id, records)
        for (unit, outputs, _), record in zip(reused, records, strict=True):
            if not self.hooks.empty:
                self.hooks.call(
                    "step_end",
                    step=self._event(unit),
                    status="completed",
                    metadata=record.metadata,
                    metrics=[],
                    outputs={},
                    cache_hit=True,
                    error=None,
                )
            self._complete(unit, nodes, outputs)

    def _complete(self, unit: _Unit, nodes: dict[str, _Node], outputs: dict[str, str]) -> None:
        state = nodes[unit.node]
        if unit.index is None:
            state.outputs = outputs
        else:
            state.elements[unit.index] = outputs
        state.open_units -= 1

    def _submit(self, unit: _Unit) -> Future[dict[str, Any]]:
        if not unit.step_run_id:
            self._create(unit)
        step = self.spec.step(unit.node)
        task = StepTask(
            run_id=self.run_id,
            step_run_id=unit.step_run_id,
            step=unit.node,
            name=unit.name,
            spec=self._spec_dict,
            inputs=unit.inputs,
            settings=self.settings.to_dict(),
            cache_key=unit.decision.key,
            cache_components=unit.decision.components,
            cache_reason=unit.decision.reason,
            attempt=unit.attempt,
            max_attempts=step.options.retries + 1,
            previous_errors=list(unit.errors),
            timeout=step.options.timeout,
            map_index=unit.index,
            map_split=unit.split,
            materializers=self._materializers,
            hooks=self._hook_paths,
        )
        self.submitted += 1
        try:
            return self.orchestrator.submit(task)  # type: ignore[no-any-return]
        except Exception as exc:  # the engine refused it: a failed attempt like any other
            future: Future[dict[str, Any]] = Future()
            future.set_exception(exc)
            return future

    @staticmethod
    def _outcome(future: Future[dict[str, Any]]) -> dict[str, Any]:
        try:
            result = future.result()
        except Exception as exc:
            return {
                "status": "failed",
                "error": f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, TaskLostError)
                else str(exc),
                "error_type": type(exc).__name__,
                "traceback": "".join(traceback.format_exception(exc, limit=-4)),
                "lost": True,
            }
        if not isinstance(result, Mapping) or "status" not in result:
            return {"status": "failed", "error": f"the engine returned {result!r}", "lost": True}
        return dict(result)

    def _failed(self, unit: _Unit, outcome: Mapping[str, Any]) -> float | None:
        """Record a failed attempt; the delay before the next one, or None if none is left."""
        step = self.spec.step(unit.node)
        reason = str(outcome.get("error") or "failed")
        unit.errors.append(f"attempt {unit.attempt}: {reason}")
        if outcome.get("called") is False:
            # Its inputs could not be given to it: no attempt ran, and another would fail
            # the same way.
            unit.attempt -= 1
        elif unit.attempt <= step.options.retries:
            delay = step.options.retry_delay * step.options.retry_backoff ** (unit.attempt - 1)
            log.warning(
                "step '%s' failed (attempt %d of %d): %s; retrying in %.1fs",
                unit.name,
                unit.attempt,
                step.options.retries + 1,
                reason,
                delay,
            )
            unit.attempt += 1
            return delay
        text = str(outcome.get("traceback") or reason)
        self._finish_failed(unit, outcome, text)
        return None

    def _finish_failed(self, unit: _Unit, outcome: Mapping[str, Any], text: str) -> None:
        try:
            self._record_failure(unit, outcome, text)
        except StoreError as exc:
            # One line, no traceback: the run's own end cannot be recorded either, and
            # that error is what the caller sees.
            log.warning("could not record the failure of step run %s: %s", unit.step_run_id, exc)

    def _record_failure(self, unit: _Unit, outcome: Mapping[str, Any], text: str) -> None:
        self.stores.metadata.finish_step_run(
            unit.step_run_id,
            status="failed",
            ended_at=time.time(),
            cache_key=unit.decision.key,
            cache_components=unit.decision.components,
            cache_reason=unit.decision.reason,
            error=text[-20000:],
            attempts=unit.attempt,
            metadata={
                "attempt_errors": list(unit.errors),
                **({"node": outcome["node"]} if outcome.get("node") else {}),
                **({"logs": outcome["log"]} if outcome.get("log") else {}),
            },
        )
        if not self.hooks.empty:
            self.hooks.call(
                "step_end",
                step=self._event(unit),
                status="failed",
                metadata={},
                metrics=[],
                outputs={},
                cache_hit=False,
                error=text,
            )
        return None

    def _error(self, unit: _Unit, outcome: Mapping[str, Any]) -> StepError:
        reason = str(outcome.get("error") or "failed")
        error = StepError(reason, step=unit.name, run_id=self.run_id)
        cause = outcome.get("exception")
        if not isinstance(cause, BaseException):
            cause = RemoteStepFailure(
                str(outcome.get("error_type") or "Error"),
                reason,
                str(outcome.get("traceback") or ""),
                outcome.get("node"),
            )
        error.__cause__ = cause
        return error

    def _record_stopped(self, unit: _Unit, status: str, reason: str) -> None:
        if not unit.step_run_id:
            return
        try:
            self.stores.metadata.finish_step_run(
                unit.step_run_id,
                status=status,
                ended_at=time.time(),
                cache_key=unit.decision.key,
                cache_components=unit.decision.components,
                cache_reason=unit.decision.reason,
                error=reason,
                attempts=unit.attempt,
            )
        except Exception as exc:
            log.warning("could not record that step run %s stopped: %s", unit.name, exc)

    def _skip_downstream(
        self, name: str, pending: list[str], upstream: Mapping[str, list[str]]
    ) -> None:
        for lost in downstream_of(upstream, [name]):
            if lost in pending:
                pending.remove(lost)
                self.stores.metadata.record_skipped_step(
                    run_id=self.run_id,
                    name=lost,
                    reason=f"upstream step '{name}' failed",
                    at=time.time(),
                )

    def _event(self, unit: _Unit) -> StepEvent:
        step = self.spec.step(unit.node)
        return StepEvent(
            run_id=self.run_id,
            step_run_id=unit.step_run_id,
            name=unit.name,
            pipeline=self.spec.name,
            parameters=dict(step.parameters),
            attempt=unit.attempt,
            map_index=unit.index,
            started_at=time.time(),
        )


def _flat_inputs(inputs: Mapping[str, Any]) -> dict[str, str]:
    """Lineage edge names: ``models[0]``, ``models[1]`` for a list input."""
    flat: dict[str, str] = {}
    for name, value in inputs.items():
        if isinstance(value, list):
            flat.update({f"{name}[{i}]": v for i, v in enumerate(value)})
        else:
            flat[name] = value
    return flat


def _fingerprint(item: Any, list_hash: str, index: int) -> str:
    """A map element's identity in the cache key: the hash of its canonical JSON, so
    changing one element reruns that element only; an element that is not JSON falls
    back to the list's hash and its index."""
    from headrace.spec.canonical import canonical_json, is_json_value, sha256_hex

    if is_json_value(item):
        return sha256_hex(canonical_json(item))
    return f"{list_hash}[{index}]"
