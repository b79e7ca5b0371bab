"""Plain records the stores return. Pure data: no Python objects of users, no I/O.

Timestamps are float seconds since the epoch (UTC); JSON columns come back as dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: str
    pipeline: str
    status: str  # running | completed | failed | crashed | cancelled
    parameters: dict[str, Any]
    spec: dict[str, Any]
    environment_hash: str | None
    created_at: float
    started_at: float | None
    ended_at: float | None
    error: str | None = None
    origin_run_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StepRunRecord:
    id: str
    run_id: str
    name: str
    status: str  # running | completed | failed | skipped | crashed | cancelled
    cache_key: str | None
    cache_hit: bool
    cache_reason: str | None
    cache_components: dict[str, Any]
    started_at: float | None
    ended_at: float | None
    error: str | None
    attempts: int
    inputs: dict[str, str]  # input name -> artifact version id
    outputs: dict[str, str]  # output name -> artifact version id
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One value of a metric a step logged: ``step`` is the user's x axis (an epoch, a
    batch), ``timestamp`` when it was logged (seconds since the epoch)."""

    name: str
    value: float
    step: int
    timestamp: float


@dataclass(frozen=True, slots=True)
class MetricCondition:
    """``name OP value`` on the last logged value of a metric in a run."""

    name: str
    op: str  # one of > >= < <= == !=
    value: float


@dataclass(frozen=True, slots=True)
class ArtifactVersionRecord:
    id: str
    name: str
    version: int
    hash: str
    uri: str
    type: str
    materializer: str
    size: int
    metadata: dict[str, Any]
    created_at: float
    producer_step_run_id: str | None
    producer_run_id: str | None


@dataclass(frozen=True, slots=True)
class NewArtifactVersion:
    """What the runner knows about an output before the store numbers it."""

    name: str
    hash: str
    uri: str
    type: str
    materializer: str
    size: int
    metadata: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LineageEdge:
    """``source`` -> ``target``; kinds are ``artifact`` and ``step_run`` ids."""

    source: str
    target: str
    name: str  # the input or output name on the step side


@dataclass(frozen=True, slots=True)
class LineageGraph:
    root: str  # the artifact version id the query started from
    artifacts: dict[str, ArtifactVersionRecord]
    step_runs: dict[str, StepRunRecord]
    edges: list[LineageEdge]
