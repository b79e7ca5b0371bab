"""Run one step: check the cache, load inputs, call the function, store outputs, record.

:func:`run_step` needs only the pipeline spec, the step's name, the store settings, the
run id and the artifact version ids of its inputs. The local orchestrator calls it in a
thread; a subprocess or a Ray task calls the very same function.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headrace import materializers
from headrace.errors import HeadraceError, MaterializerError, StepError
from headrace.hashing import cache_key, explain_cache_miss
from headrace.home import StoreSettings
from headrace.runner.context import StepContext, activate, deactivate
from headrace.runner.functions import resolve_function
from headrace.runner.metrics import save_metric_points
from headrace.runner.stores import Stores, open_stores
from headrace.runner.typecheck import check_inputs, check_outputs
from headrace.spec.types import PipelineSpec, StepSpec
from headrace.store.records import ArtifactVersionRecord, NewArtifactVersion, StepRunRecord

log = logging.getLogger("headrace")


@dataclass(frozen=True, slots=True)
class Reuse:
    """Outputs of a step that completed in an earlier run, offered to a resumed run."""

    run_id: str
    outputs: dict[str, str]


@dataclass(frozen=True, slots=True)
class StepResult:
    step_run_id: str
    cache_hit: bool
    outputs: dict[str, str]  # output name -> artifact version id


def run_step(
    spec: PipelineSpec,
    step_name: str,
    settings: StoreSettings,
    run_id: str,
    inputs: Mapping[str, str],
    *,
    function: Callable[..., Any] | None = None,
    step_run_id: str | None = None,
    reuse: Reuse | None = None,
) -> StepResult:
    """Execute ``step_name`` of ``spec`` within run ``run_id``. Raises StepError on failure,
    after recording the step run as failed. ``step_run_id`` lets a parent process that
    launched this step in a child know the id of its record in advance. ``reuse`` (from
    a resume) takes the outputs an earlier run's step completed, if their bytes exist."""
    stores = open_stores(settings)
    step = spec.step(step_name)
    meta = stores.metadata
    input_records = {name: meta.get_artifact_version_by_id(vid) for name, vid in inputs.items()}
    components = _cache_components(step, input_records)
    key = cache_key(components)
    step_run_id = step_run_id or uuid.uuid4().hex
    meta.create_step_run(
        step_run_id=step_run_id,
        run_id=run_id,
        name=step.name,
        started_at=time.time(),
        inputs=dict(inputs),
    )

    if reuse is not None and _outputs_intact(stores, step, reuse.outputs):
        return _finish_reused(
            stores,
            step_run_id,
            key,
            components,
            reuse.outputs,
            f"resumed: reused the outputs of run {reuse.run_id[:12]}",
        )
    if step.options.cache:
        cached = meta.find_cached_step_run(key)
        if cached is not None and _outputs_intact(stores, step, cached.outputs):
            return _reuse(stores, cached, key, components, step_run_id)
        reason = _miss_reason(stores, spec, step, components, had_key=cached is not None)
    else:
        reason = "caching is off for this step"

    def fails(what: str, attempts: int) -> AbstractContextManager[None]:
        def record(exc: BaseException) -> None:
            _record_failure(stores, step_run_id, key, components, reason, exc, attempts=attempts)

        return _failure_recorded(record, step.name, run_id, what)

    with fails("could not load its inputs", attempts=0):
        func = function or resolve_function(step.function, step=step.name)
        values = {name: load_artifact(stores, rec) for name, rec in input_records.items()}
    with fails("", attempts=0):
        check_inputs(func, values)

    staging = Path(tempfile.mkdtemp(prefix="headrace-step-"))
    ctx = StepContext(
        run_id=run_id,
        step_run_id=step_run_id,
        step_name=step.name,
        pipeline_name=spec.name,
        output_names=tuple(step.output_names),
        staging_dir=staging,
        artifact_root=stores.artifacts.root_uri,
    )
    try:
        with fails("", attempts=step.options.retries + 1):
            result, attempts = _call_with_retries(func, {**step.parameters, **values}, step, ctx)
        with fails("", attempts=attempts):
            outputs = [(o.name, o.type) for o in step.outputs]
            check_outputs(outputs, result, namespace=getattr(func, "__globals__", None))
        with fails("could not store its outputs", attempts=attempts):
            new_versions = _store_outputs(stores, step, result, staging, ctx)
    finally:
        save_metric_points(stores, ctx)  # kept for a failed step too: how it got there
        shutil.rmtree(staging, ignore_errors=True)

    # If recording fails, the stored bytes stay unreferenced (gc removes them); the step
    # run must not stay "running".
    with fails("could not record its outputs", attempts=attempts):
        records = meta.finish_step_run(
            step_run_id,
            status="completed",
            ended_at=time.time(),
            cache_key=key,
            cache_components=components,
            cache_hit=False,
            cache_reason=reason,
            attempts=attempts,
            outputs=new_versions,
            metadata=ctx.step_metadata,
            output_metadata=ctx.output_metadata,
        )
    return StepResult(step_run_id, False, {name: rec.id for name, rec in records.items()})


def load_artifact(stores: Stores, record: ArtifactVersionRecord) -> Any:
    """The Python object of an artifact version, read by the materializer that wrote it,
    after verifying its bytes against the content hash."""
    folder = stores.artifacts.fetch(record.hash)
    return materializers.load(folder, record.materializer, record.type)


# -- pieces ----------------------------------------------------------------------------


def _cache_components(
    step: StepSpec, inputs: Mapping[str, ArtifactVersionRecord]
) -> dict[str, Any]:
    return {
        "code": step.code_hash,
        "parameters": step.parameters,
        "inputs": {name: rec.hash for name, rec in inputs.items()},
        "materializers": {
            o.name: step.options.materializers.get(o.name) or o.materializer or o.type
            for o in step.outputs
        },
        "cache_version": step.options.cache_version,
    }


def _outputs_intact(stores: Stores, step: StepSpec, outputs: Mapping[str, str]) -> bool:
    """A cache hit only counts if every output's bytes are still in the artifact store."""
    if set(outputs) != set(step.output_names):
        return False
    for version_id in outputs.values():
        record = stores.metadata.get_artifact_version_by_id(version_id)
        if not stores.artifacts.has(record.hash):
            return False
    return True


def _reuse(
    stores: Stores, cached: StepRunRecord, key: str, components: dict[str, Any], step_run_id: str
) -> StepResult:
    reason = (
        f"same inputs, parameters and code as step run {cached.id[:12]} of run {cached.run_id[:12]}"
    )
    return _finish_reused(stores, step_run_id, key, components, cached.outputs, reason)


def _finish_reused(
    stores: Stores,
    step_run_id: str,
    key: str,
    components: dict[str, Any],
    outputs: Mapping[str, str],
    reason: str,
) -> StepResult:
    stores.metadata.finish_step_run(
        step_run_id,
        status="completed",
        ended_at=time.time(),
        cache_key=key,
        cache_components=components,
        cache_hit=True,
        cache_reason=reason,
        attempts=0,
        outputs=dict(outputs),
    )
    return StepResult(step_run_id, True, dict(outputs))


def _miss_reason(
    stores: Stores, spec: PipelineSpec, step: StepSpec, components: dict[str, Any], *, had_key: bool
) -> str:
    if had_key:
        return "an earlier run had the same key but its outputs are missing from the artifact store"
    previous = stores.metadata.previous_step_run(pipeline=spec.name, step=step.name)
    return explain_cache_miss(previous.cache_components if previous else None, components)


def _call_with_retries(
    func: Callable[..., Any], kwargs: dict[str, Any], step: StepSpec, ctx: StepContext
) -> tuple[Any, int]:
    attempts = step.options.retries + 1
    delay = step.options.retry_delay
    for attempt in range(1, attempts + 1):
        token = activate(ctx)
        try:
            return func(**kwargs), attempt
        except Exception as exc:
            if attempt == attempts:
                raise
            log.warning(
                "step '%s' failed (attempt %d of %d): %s: %s; retrying in %.1fs",
                step.name,
                attempt,
                attempts,
                type(exc).__name__,
                exc,
                delay,
            )
            time.sleep(delay)
            delay *= step.options.retry_backoff
        finally:
            deactivate(token)
    raise AssertionError("unreachable")


def _store_outputs(
    stores: Stores, step: StepSpec, result: Any, staging: Path, ctx: StepContext
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
    for name, (folder, metadata, chosen_name) in folders.items():
        stored = stores.artifacts.put_dir(folder)
        versions[name] = NewArtifactVersion(
            name=name,
            hash=stored.hash,
            uri=stored.uri,
            type=str(metadata.get("type") or materializers.type_name(values[name])),
            materializer=chosen_name,
            size=stored.size,
            metadata=metadata,
        )
    return versions


def _record_failure(
    stores: Stores,
    step_run_id: str,
    key: str,
    components: dict[str, Any],
    reason: str,
    exc: BaseException,
    *,
    attempts: int,
) -> None:
    status = "failed" if isinstance(exc, Exception) else "cancelled"
    text = "".join(traceback.format_exception(exc, limit=-8))
    try:
        stores.metadata.finish_step_run(
            step_run_id,
            status=status,
            ended_at=time.time(),
            cache_key=key,
            cache_components=components,
            cache_reason=reason,
            error=text[-20000:],
            attempts=attempts,
        )
    except HeadraceError as error:
        # One line, no traceback: without logging configured, Python prints warnings on
        # stderr, and a command line promises one clear line per failure.
        log.warning("could not record the failure of step run %s: %s", step_run_id, error)


@contextmanager
def _failure_recorded(
    record: Callable[[BaseException], None], step: str, run_id: str, what: str
) -> Iterator[None]:
    """Record any failure of the block on the step run, then raise it as a StepError
    (Ctrl-C and exits are recorded and passed on as they are)."""
    try:
        yield
    except BaseException as exc:
        record(exc)
        if not isinstance(exc, Exception):
            raise
        raise _step_error(exc, step, run_id, what) from exc


def _step_error(exc: Exception, step: str, run_id: str, what: str = "") -> StepError:
    prefix = f"{what}: " if what else ""
    return StepError(f"{prefix}{type(exc).__name__}: {exc}", step=step, run_id=run_id)
