"""JSON views of runs, step runs and artifact versions (what ``--json`` prints)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headrace.cli._output import iso_time

if TYPE_CHECKING:
    from headrace.client import ArtifactVersion, Run, StepRun
    from headrace.store.records import ArtifactVersionRecord


def artifact_brief(record: ArtifactVersionRecord) -> dict[str, Any]:
    """The identity of an artifact version, as listings and lineage show it."""
    return {
        "id": record.id,
        "name": record.name,
        "version": record.version,
        "hash": record.hash,
        "size": record.size,
        "type": record.type,
        "producer_run_id": record.producer_run_id,
    }


def artifact_dict(artifact: ArtifactVersion) -> dict[str, Any]:
    """Everything recorded about an artifact version."""
    record = artifact.record
    return {
        **artifact_brief(record),
        "materializer": record.materializer,
        "uri": record.uri,
        "created_at": iso_time(record.created_at),
        "producer_step_run_id": record.producer_step_run_id,
        "metadata": record.metadata,
    }


def step_dict(step: StepRun, upstream: list[str]) -> dict[str, Any]:
    record = step.record
    return {
        "id": record.id,
        "name": record.name,
        "status": record.status,
        "upstream": upstream,
        "started_at": iso_time(record.started_at),
        "ended_at": iso_time(record.ended_at),
        "duration": step.duration,
        "cache_hit": record.cache_hit,
        "cache_reason": record.cache_reason,
        "cache_key": record.cache_key,
        "attempts": record.attempts,
        "error": record.error,
        "metadata": record.metadata,
        "metrics": {
            name: [{"step": p.step, "value": p.value, "timestamp": p.timestamp} for p in points]
            for name, points in step.metrics().items()
        },
        "inputs": {name: artifact_brief(a.record) for name, a in step.inputs.items()},
        "outputs": {name: artifact_brief(a.record) for name, a in step.outputs.items()},
    }


def run_dict(run: Run) -> dict[str, Any]:
    record = run.record
    return {
        "id": record.id,
        "pipeline": record.pipeline,
        "status": record.status,
        "parameters": record.parameters,
        "created_at": iso_time(record.created_at),
        "started_at": iso_time(record.started_at),
        "ended_at": iso_time(record.ended_at),
        "duration": run.duration,
        "error": record.error,
        "origin_run_id": record.origin_run_id,
        "environment_hash": record.environment_hash,
        "metadata": record.metadata,
    }


def spec_upstream(run: Run) -> dict[str, list[str]]:
    """Step name -> the steps it waits for, in pipeline order, from the run's spec."""
    upstream: dict[str, list[str]] = {}
    for step in run.record.spec.get("steps", []):
        parents = [b["step"] for b in step.get("inputs", {}).values()] + list(step.get("after", []))
        upstream[step["name"]] = list(dict.fromkeys(parents))
    return upstream


def run_detail_dict(run: Run) -> dict[str, Any]:
    """A run with every step, in pipeline order, including steps that never started."""
    upstream = spec_upstream(run)
    steps = run.steps
    listed: list[dict[str, Any]] = []
    mapped = {s["name"] for s in run.record.spec.get("steps", []) if s.get("map_over")}
    for name in [*upstream, *(n for n in steps if n not in upstream)]:
        if name in steps:
            base = name.partition("[")[0]
            listed.append(step_dict(steps[name], upstream.get(name, upstream.get(base, []))))
        elif name in mapped and any(n.startswith(name + "[") for n in steps):
            continue  # its elements are listed, as name[0], name[1], ...
        else:
            listed.append({"name": name, "status": "not run", "upstream": upstream.get(name, [])})
    return {**run_dict(run), "stack": run.stack, "steps": listed}
