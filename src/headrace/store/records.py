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
    stack: dict[str, Any] | None = None  # the stack it ran on (flavors, no secrets)


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
class ReusedStepRun:
    """A step run that reused earlier outputs (a cache hit, or resume reuse): recorded
    complete at once, many in one transaction (a large map's hits)."""

    step_run_id: str
    name: str
    inputs: dict[str, str]  # input (edge) name -> artifact version id
    outputs: dict[str, str]  # output name -> the reused artifact version id
    cache_key: str
    cache_components: dict[str, Any]
    cache_reason: str
    at: float
    metadata: dict[str, Any] = field(default_factory=dict)


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


# -- the model registry and schedules ----------------------------------------------------

#: Prefix of the ``cron`` of a schedule that runs when an artifact gets a new version.
ARTIFACT_TRIGGER = "@artifact "


@dataclass(frozen=True, slots=True)
class ModelVersionRecord:
    id: str
    model: str
    version: int
    run_id: str | None
    metadata: dict[str, Any]
    created_at: float
    artifacts: dict[str, str] = field(default_factory=dict)  # name -> artifact version id
    roles: dict[str, str] = field(default_factory=dict)  # name -> role
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PromotionRecord:
    id: str
    model: str
    alias: str
    model_version_id: str
    version: int
    previous_version_id: str | None
    previous_version: int | None
    actor: str
    reason: str | None
    checks: list[dict[str, Any]]
    created_at: float


@dataclass(frozen=True, slots=True)
class ModelRecord:
    name: str
    description: str | None
    created_at: float
    latest_version: int | None
    aliases: dict[str, int]


@dataclass(frozen=True, slots=True)
class ScheduleRecord:
    name: str
    target: str
    cron: str
    parameters: dict[str, Any]
    created_at: float
    next_run_at: float
    last_run_at: float | None
    last_status: str | None
    running_since: float | None
    owner: str | None


@dataclass(frozen=True, slots=True)
class StackRecord:
    """A named stack: its components as plain config (flavors and options; an option that
    holds a credential is a ``${ENV_VAR}`` or ``secret:NAME`` reference, never the value)."""

    name: str
    components: dict[str, dict[str, Any]]  # kind -> {"flavor": ..., "options": {...}, ...}
    created_at: float
    updated_at: float
