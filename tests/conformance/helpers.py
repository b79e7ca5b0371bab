"""Records the conformance suites build: runs, step runs and artifact versions."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from headrace.store.protocols import MetadataStore
from headrace.store.records import (
    ArtifactVersionRecord,
    LineageGraph,
    NewArtifactVersion,
    RunRecord,
)


def new_version(name: str, content: str = "", **metadata: Any) -> NewArtifactVersion:
    digest = content or uuid.uuid4().hex
    return NewArtifactVersion(
        name=name,
        hash=f"sha-{digest}",
        uri=f"file:///objects/{digest}",
        type="builtins.dict",
        materializer="json",
        size=42,
        metadata=dict(metadata),
    )


def make_run(
    store: MetadataStore, pipeline: str = "training", run_id: str | None = None, **kw: Any
) -> RunRecord:
    return store.create_run(
        run_id=run_id or uuid.uuid4().hex,
        pipeline=pipeline,
        parameters=kw.pop("parameters", {"C": 0.5}),
        spec=kw.pop("spec", {"steps": ["load"]}),
        environment_hash=kw.pop("environment_hash", None),
        started_at=kw.pop("started_at", time.time()),
        **kw,
    )


def run_step(
    store: MetadataStore,
    run_id: str,
    name: str,
    *,
    inputs: Mapping[str, str] | None = None,
    outputs: Mapping[str, NewArtifactVersion | str] | None = None,
    status: str = "completed",
    cache_key: str | None = None,
    cache_hit: bool = False,
    **kw: Any,
) -> tuple[str, dict[str, ArtifactVersionRecord]]:
    step_run_id = uuid.uuid4().hex
    store.create_step_run(
        step_run_id=step_run_id,
        run_id=run_id,
        name=name,
        started_at=time.time(),
        inputs=dict(inputs or {}),
    )
    records = store.finish_step_run(
        step_run_id,
        status=status,
        ended_at=time.time(),
        cache_key=cache_key,
        cache_components=kw.pop("cache_components", {"code": name}),
        cache_hit=cache_hit,
        outputs=dict(outputs or {}),
        **kw,
    )
    return step_run_id, records


def assert_well_formed(graph: LineageGraph) -> None:
    """Every edge joins an artifact and a step run of the graph, in a valid direction."""
    for edge in graph.edges:
        if edge.source in graph.artifacts:
            assert edge.target in graph.step_runs
            assert graph.step_runs[edge.target].inputs[edge.name] == edge.source
        else:
            assert edge.source in graph.step_runs and edge.target in graph.artifacts
            assert graph.step_runs[edge.source].outputs[edge.name] == edge.target
    assert graph.root in graph.artifacts
    assert len(set(graph.edges)) == len(graph.edges)
