"""The contracts every metadata store implements, whatever holds the records.

The SQL store (SQLite, PostgreSQL) and the team server's REST client implement these;
everything above ``store/`` sees only these protocols, never an implementation (the
import-linter contracts in ``pyproject.toml`` forbid it). One conformance suite
(``tests/conformance/``) runs against every implementation.

A :class:`MetadataStore` is the records of runs, step runs, artifact versions, lineage,
environments and stacks; its ``registry`` holds models, versions, aliases and
promotions, and its ``schedules`` the schedules and triggers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from headrace.store.records import (
    ArtifactVersionRecord,
    LineageGraph,
    MetricCondition,
    MetricPoint,
    ModelRecord,
    ModelVersionRecord,
    NewArtifactVersion,
    PromotionRecord,
    ReusedStepRun,
    RunRecord,
    ScheduleRecord,
    StackRecord,
    StepRunRecord,
)


class RegistryStore(Protocol):
    """Models, their versions and linked artifacts, aliases and promotions."""

    def create_version(
        self,
        model: str,
        *,
        run_id: str | None,
        artifacts: Mapping[str, tuple[str, str]],
        metadata: Mapping[str, Any],
        description: str | None = None,
    ) -> ModelVersionRecord: ...
    def list_models(self) -> list[ModelRecord]: ...
    def list_versions(
        self, model: str, *, limit: int | None = None
    ) -> list[ModelVersionRecord]: ...
    def get_version(self, model: str, ref: int | str) -> ModelVersionRecord: ...
    def get_version_by_id(self, version_id: str) -> ModelVersionRecord: ...
    def alias_target(self, model: str, alias: str) -> str | None: ...
    def versions_of_artifact(self, artifact_version_id: str) -> list[ModelVersionRecord]: ...
    def update_metadata(self, version_id: str, values: Mapping[str, Any]) -> ModelVersionRecord: ...
    def set_alias(
        self,
        model: str,
        alias: str,
        version_id: str,
        *,
        actor: str,
        reason: str | None,
        checks: Sequence[Mapping[str, Any]],
        exclusive: Sequence[str] = (),
    ) -> PromotionRecord: ...
    def history(self, model: str) -> list[PromotionRecord]: ...


class ScheduleStore(Protocol):
    """Cron schedules and artifact triggers, claimed by one scheduler process at a time."""

    def add_schedule(
        self,
        name: str,
        *,
        target: str,
        cron: str,
        parameters: Mapping[str, Any],
        next_run_at: float,
    ) -> ScheduleRecord: ...
    def list_schedules(self) -> list[ScheduleRecord]: ...
    def remove_schedule(self, name: str) -> None: ...
    def claim_due(self, now: float, owner: str, stale_after: float) -> list[ScheduleRecord]: ...
    def claim_trigger(
        self, name: str, *, seen: float, now: float, owner: str, stale_after: float
    ) -> ScheduleRecord | None: ...
    def finish_schedule(
        self, name: str, *, owner: str, status: str, ran_at: float, next_run_at: float
    ) -> None: ...


@runtime_checkable
class MetadataStore(Protocol):
    """Runs, step runs, artifact versions, lineage edges, metadata, environments, stacks.

    Every method is one transaction; an instance is safe to share between threads.
    Lookups of absent records raise the matching ``*NotFoundError``.
    """

    url: str

    @property
    def registry(self) -> RegistryStore: ...
    @property
    def schedules(self) -> ScheduleStore: ...
    def close(self) -> None: ...

    # environments
    def put_environment(self, env_hash: str, data: Mapping[str, Any]) -> None: ...
    def get_environment(self, env_hash: str) -> dict[str, Any]: ...

    # runs
    def create_run(
        self,
        *,
        run_id: str,
        pipeline: str,
        parameters: Mapping[str, Any],
        spec: Mapping[str, Any],
        environment_hash: str | None,
        started_at: float,
        origin_run_id: str | None = None,
        owner: str | None = None,
        stack: Mapping[str, Any] | None = None,
    ) -> RunRecord: ...
    def finish_run(
        self, run_id: str, *, status: str, ended_at: float, error: str | None = None
    ) -> None: ...
    def heartbeat(self, run_ids: Sequence[str], at: float) -> None: ...
    def running_runs(self) -> list[tuple[str, str | None, float | None]]: ...
    def mark_crashed(self, run_id: str, *, at: float, reason: str) -> bool: ...
    def get_run(self, run_id: str) -> RunRecord: ...
    def resolve_run_id(self, ref: str) -> str: ...
    def list_runs(
        self,
        *,
        pipeline: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        metrics: Sequence[MetricCondition] = (),
    ) -> list[RunRecord]: ...
    def add_run_metadata(self, run_id: str, values: Mapping[str, Any]) -> None: ...

    # metric history
    def add_metric_points(self, step_run_id: str, points: Sequence[MetricPoint]) -> None: ...
    def get_metric_points(self, step_run_id: str, name: str | None = None) -> list[MetricPoint]: ...
    def last_metric_values(self, run_ids: Sequence[str]) -> dict[str, dict[str, float]]: ...

    # step runs
    def create_step_run(
        self,
        *,
        step_run_id: str,
        run_id: str,
        name: str,
        started_at: float,
        inputs: Mapping[str, str],
    ) -> None: ...
    def finish_step_run(
        self,
        step_run_id: str,
        *,
        status: str,
        ended_at: float,
        cache_key: str | None,
        cache_components: Mapping[str, Any],
        cache_hit: bool = False,
        cache_reason: str | None = None,
        error: str | None = None,
        attempts: int = 1,
        outputs: Mapping[str, NewArtifactVersion | str] = {},
        metadata: Mapping[str, Any] = {},
        output_metadata: Mapping[str, Mapping[str, Any]] = {},
    ) -> dict[str, ArtifactVersionRecord]: ...
    def record_skipped_step(self, *, run_id: str, name: str, reason: str, at: float) -> None: ...
    def record_reused_steps(self, run_id: str, steps: Sequence[ReusedStepRun]) -> None: ...
    def get_step_runs(self, run_id: str) -> list[StepRunRecord]: ...
    def get_step_run(self, step_run_id: str) -> StepRunRecord: ...
    def find_cached_step_run(self, cache_key: str) -> StepRunRecord | None: ...
    def find_cached_step_runs(self, cache_keys: Iterable[str]) -> dict[str, StepRunRecord]: ...
    def add_step_run_metadata(self, step_run_id: str, values: Mapping[str, Any]) -> None: ...
    def previous_step_run(self, *, pipeline: str, step: str) -> StepRunRecord | None: ...

    # artifact versions and lineage
    def get_artifact_version(
        self, name: str, version: int | None = None
    ) -> ArtifactVersionRecord: ...
    def get_artifact_version_by_id(self, artifact_version_id: str) -> ArtifactVersionRecord: ...
    def get_artifact_versions_by_ids(
        self, artifact_version_ids: Iterable[str]
    ) -> dict[str, ArtifactVersionRecord]: ...
    def list_artifact_versions(
        self, *, name: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[ArtifactVersionRecord]: ...
    def referenced_hashes(self) -> set[str]: ...
    def lineage_upstream(self, artifact_version_id: str) -> LineageGraph: ...
    def lineage_downstream(self, artifact_version_id: str) -> LineageGraph: ...

    # stacks
    def put_stack(self, name: str, components: Mapping[str, Mapping[str, Any]]) -> StackRecord: ...
    def get_stack(self, name: str) -> StackRecord: ...
    def list_stacks(self) -> list[StackRecord]: ...
    def delete_stack(self, name: str) -> None: ...
