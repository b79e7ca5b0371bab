"""Run one attempt of one step where a task landed: load inputs, call the function with
its logs captured and its hooks told, store the outputs, record the completed step run.

The scheduler has already decided that the step must run (it was no cache hit) and
created its step run; this module only executes. A failure is returned to the
scheduler, which retries or records it; success is recorded here, in one transaction
with the new artifact versions, because only this process holds the outputs.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from headrace import materializers
from headrace.errors import MaterializerError
from headrace.hooks import ArtifactEvent, Hooks, StepEvent
from headrace.runner import logs
from headrace.runner.context import StepContext, activate, deactivate
from headrace.runner.functions import resolve_function
from headrace.runner.metrics import save_metric_points
from headrace.runner.task import StepTask, failure_result, node_name
from headrace.runner.typecheck import check_inputs, check_outputs
from headrace.spec.types import PipelineSpec, StepSpec
from headrace.store.records import ArtifactVersionRecord, NewArtifactVersion
from headrace.store.stores import Stores

log = logging.getLogger("headrace")


def execute_step(
    task: StepTask,
    spec: PipelineSpec,
    stores: Stores,
    hooks: Hooks,
    *,
    function: Callable[..., Any] | None = None,
    on_timeout: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    step = spec.step(task.step)
    event = StepEvent(
        run_id=task.run_id,
        step_run_id=task.step_run_id,
        name=task.run_name,
        pipeline=spec.name,
        parameters=dict(step.parameters),
        attempt=task.attempt,
        map_index=task.map_index,
        started_at=time.time(),
    )
    sink = logs.LogSink(stores.artifacts, task.run_id, task.step_run_id, append=task.attempt > 1)
    staging = Path(tempfile.mkdtemp(prefix="headrace-step-"))
    ctx = StepContext(
        run_id=task.run_id,
        step_run_id=task.step_run_id,
        step_name=task.run_name,
        pipeline_name=spec.name,
        output_names=tuple(step.output_names),
        staging_dir=staging,
        artifact_root=stores.artifacts.root_uri,
    )
    stage = "could not load its inputs"
    called = False  # an input that cannot be loaded or has the wrong type: never called
    try:
        with logs.capturing(sink):
            func = function or resolve_function(step.function, step=step.name)
            kwargs = dict(step.parameters)
            values = load_inputs(
                stores, step, task.inputs, task.map_index if task.map_split else None
            )
            kwargs.update(values)
            stage = ""
            check_inputs(func, values)
            hooks.call("step_start", step=event)
            token = activate(ctx)
            watchdog = _watchdog(task.timeout, sink, on_timeout)
            called = True
            try:
                result = func(**kwargs)
            finally:
                if watchdog is not None:
                    watchdog.cancel()
                deactivate(token)
            declared = [(o.name, o.type) for o in step.outputs]
            check_outputs(declared, result, namespace=getattr(func, "__globals__", None))
            stage = "could not store its outputs"
            new_versions = _store_outputs(stores, step, result, staging)
    except Exception as exc:
        text = "".join(traceback.format_exception(exc, limit=-8))
        error = failure_result(exc, text, log=sink.summary())
        error["exception"] = exc  # in this process only: the StepError's __cause__
        error["called"] = called
        if stage:
            error["error"] = f"{stage}: {error['error']}"
        hooks.call("failure", step=event, error=text)
        return error
    finally:
        save_metric_points(stores, ctx)  # kept for a failed step too: how it got there
        shutil.rmtree(staging, ignore_errors=True)

    metadata = dict(ctx.step_metadata)
    if sink.stored or sink.dropped:
        metadata["logs"] = sink.summary()
    output_metadata = {k: dict(v) for k, v in ctx.output_metadata.items()}
    if task.map_index is not None:
        metadata["map_index"] = task.map_index
        for name in new_versions:
            output_metadata.setdefault(name, {})["map_index"] = task.map_index
    if task.previous_errors:
        metadata["attempt_errors"] = list(task.previous_errors)
    stage = "could not record its outputs"
    try:
        records = stores.metadata.finish_step_run(
            task.step_run_id,
            status="completed",
            ended_at=time.time(),
            cache_key=task.cache_key,
            cache_components=task.cache_components,
            cache_hit=False,
            cache_reason=task.cache_reason,
            attempts=task.attempt,
            outputs=new_versions,
            metadata=metadata,
            output_metadata=output_metadata,
        )
    except Exception as exc:
        # The stored bytes stay unreferenced (gc removes them).
        error = failure_result(exc, traceback.format_exc())
        error["error"] = f"{stage}: {error['error']}"
        return error
    artifacts = {name: artifact_event(task, rec, name) for name, rec in records.items()}
    for artifact in artifacts.values():
        hooks.call("artifact_saved", artifact=artifact)
    links = hooks.call(
        "step_end",
        step=event,
        status="completed",
        metadata=metadata,
        metrics=list(ctx.metric_points),
        outputs=artifacts,
        cache_hit=False,
        error=None,
    )
    if links:
        merged: dict[str, Any] = {}
        for found in links:
            if isinstance(found, Mapping):
                merged.update(found)
        if merged:
            try:
                stores.metadata.add_step_run_metadata(task.step_run_id, {"links": merged})
            except Exception as exc:
                log.warning("could not record the tracker links of %s: %s", task.run_name, exc)
    return {
        "status": "completed",
        "step_run_id": task.step_run_id,
        "outputs": {name: rec.id for name, rec in records.items()},
        "node": node_name(),
    }


def _watchdog(
    timeout: float | None, sink: logs.LogSink, on_timeout: Callable[[float], None] | None
) -> threading.Timer | None:
    """Start the step's own clock: at ``timeout`` seconds flush its log and stop it."""
    if timeout is None or on_timeout is None:
        return None

    def expire() -> None:
        message = f"headrace: timed out after {timeout:g}s of the step's own time\n"
        sink.write(message)  # this thread has no step context: write to the sink itself
        sys.__stderr__.write(message) if sys.__stderr__ is not None else None
        sink.flush()
        on_timeout(timeout)

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    return timer


def artifact_event(task: StepTask, rec: ArtifactVersionRecord, output: str) -> ArtifactEvent:
    return ArtifactEvent(
        run_id=task.run_id,
        step_run_id=task.step_run_id,
        step=task.run_name,
        output=output,
        name=rec.name,
        version=rec.version,
        artifact_version_id=rec.id,
        hash=rec.hash,
        uri=rec.uri,
        type=rec.type,
        materializer=rec.materializer,
        size=rec.size,
        metadata=dict(rec.metadata),
    )


# -- inputs -----------------------------------------------------------------------------------


def load_artifact(stores: Stores, record: ArtifactVersionRecord) -> Any:
    """The Python object of an artifact version, read by the materializer that wrote it,
    after verifying its bytes against the content hash."""
    folder = stores.artifacts.fetch(record.hash)
    return materializers.load(folder, record.materializer, record.type)


def load_inputs(
    stores: Stores, step: StepSpec, inputs: Mapping[str, Any], map_index: int | None
) -> dict[str, Any]:
    """The values of a step's inputs: one object per artifact version id, a list for a
    list of ids (fan-in), and for a map element the element of its list input."""
    ids = [i for value in inputs.values() for i in (value if isinstance(value, list) else [value])]
    records = stores.metadata.get_artifact_versions_by_ids(ids) if ids else {}
    values: dict[str, Any] = {}
    for name, value in inputs.items():
        if isinstance(value, list):
            values[name] = [load_artifact(stores, records[i]) for i in value]
        elif name == step.map_over and map_index is not None:
            values[name] = element_of(load_artifact(stores, records[value]), map_index, step)
        else:
            values[name] = load_artifact(stores, records[value])
    if step.map_over and map_index is not None and step.map_over not in inputs:
        # A map over a literal list: the element is in the parameters.
        values[step.map_over] = element_of(step.parameters[step.map_over], map_index, step)
    return values


def element_of(items: Any, index: int, step: StepSpec) -> Any:
    try:
        return items[index]
    except (IndexError, KeyError, TypeError) as exc:
        raise MaterializerError(
            f"step '{step.name}' maps over '{step.map_over}', which has no element {index}"
        ) from exc


# -- outputs ----------------------------------------------------------------------------------


def _store_outputs(
    stores: Stores, step: StepSpec, result: Any, staging: Path
) -> dict[str, NewArtifactVersion]:
    names = step.output_names
    if not names:
        return {}
    if len(names) == 1:
        values = {names[0]: result}
    else:
        if not isinstance(result, tuple) or len(result) != len(names):
            got = (
                f"{len(result)} values"
                if isinstance(result, tuple)
                else f"a {type(result).__name__}"
            )
            raise MaterializerError(
                f"step '{step.name}' declares {len(names)} outputs ({', '.join(names)}) but returned {got}"
            )
        values = dict(zip(names, result, strict=True))

    # Materialize every output before storing any: a failure leaves nothing behind.
    folders: dict[str, tuple[Path, dict[str, Any], str]] = {}
    for spec_out in step.outputs:
        value = values[spec_out.name]
        override = step.options.materializers.get(spec_out.name) or spec_out.materializer
        try:
            chosen = materializers.select(
                value, override=override, allow_pickle=step.options.allow_pickle
            )
        except MaterializerError as exc:
            raise MaterializerError(
                f"output '{spec_out.name}' of step '{step.name}': {exc}"
            ) from exc
        folder = staging / spec_out.name
        folder.mkdir(parents=True, exist_ok=True)
        metadata = materializers.save(value, folder, chosen)
        folders[spec_out.name] = (folder, metadata, chosen.name)

    versions: dict[str, NewArtifactVersion] = {}
    for spec_out in step.outputs:
        folder, metadata, chosen_name = folders[spec_out.name]
        stored = stores.artifacts.put_dir(folder)
        versions[spec_out.name] = NewArtifactVersion(
            name=spec_out.artifact_name,
            hash=stored.hash,
            uri=stored.uri,
            type=str(metadata.get("type") or materializers.type_name(values[spec_out.name])),
            materializer=chosen_name,
            size=stored.size,
            metadata=metadata,
        )
    return versions
