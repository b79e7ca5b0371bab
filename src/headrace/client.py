"""Read what runs recorded: runs, step runs, artifact versions, lineage, environments."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from headrace.errors import ConfigError, HeadraceError
from headrace.home import StoreSettings
from headrace.store import sqlite_reader
from headrace.store.metric_filter import parse_where
from headrace.store.records import (
    ArtifactVersionRecord,
    LineageGraph,
    MetricPoint,
    RunRecord,
    StepRunRecord,
)

if TYPE_CHECKING:
    from headrace.models.registry import RegisteredModel
    from headrace.store.artifacts import ArtifactStore
    from headrace.store.protocols import MetadataStore
    from headrace.store.records import ModelRecord
    from headrace.store.stores import Stores

# The store modules pull in SQLAlchemy (0.2-0.4 s to import); they are imported when a
# client first needs them, so a short command that can answer without them stays fast.


class Client:
    """Entry point for queries. ``Client()`` uses the active stack of the active home (see
    DESIGN §2); ``Client(home=...)`` another folder; ``Client(stack="team")`` a registered
    stack; ``Client(settings=...)`` explicit store settings; ``Client(metadata=...,
    artifacts=...)`` stores that are already open (the client does not close them)."""

    def __init__(
        self,
        home: str | os.PathLike[str] | None = None,
        *,
        settings: StoreSettings | None = None,
        stack: str | None = None,
        metadata: MetadataStore | None = None,
        artifacts: ArtifactStore | None = None,
    ) -> None:
        if (metadata is None) != (artifacts is None):
            raise ConfigError("Client(metadata=..., artifacts=...) takes both stores or neither")
        if settings is None:
            from headrace.stack import resolve_stack_settings

            settings = resolve_stack_settings(home, stack=stack)
        self.settings = settings
        if metadata is not None and artifacts is not None:
            from headrace.store.stores import Stores

            self.__dict__["stores"] = Stores(metadata=metadata, artifacts=artifacts)

    @cached_property
    def stores(self) -> Stores:
        """The metadata and artifact stores this client reads (opened on first use)."""
        from headrace.runner.liveness import reap_crashed_runs
        from headrace.store.stores import open_stores

        stores = open_stores(self.settings)
        reap_crashed_runs(stores)
        return stores

    def _reap(self) -> None:
        """Mark crashed runs before answering: opening the stores does it, and a client
        that has them open already does it again (a run may have died since)."""
        if "stores" in self.__dict__:
            from headrace.runner.liveness import reap_crashed_runs

            reap_crashed_runs(self.stores)

    # -- runs -------------------------------------------------------------------------------
    def runs(
        self,
        pipeline: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        *,
        where: str | None = None,
    ) -> list[Run]:
        """Runs, newest first, optionally filtered; ``where`` compares the last value each
        run logged for a metric: ``"accuracy > 0.9 and loss < 0.3"`` (ConfigError for an
        expression it cannot read)."""
        records = None
        conditions = parse_where(where) if where is not None else ()
        if "stores" not in self.__dict__ and not conditions:
            # A fresh client of a SQLite store: skip SQLAlchemy.
            records = sqlite_reader.list_runs(
                self.settings.metadata_url, pipeline=pipeline, status=status, limit=limit
            )
        if records is None:
            self._reap()
            records = self.stores.metadata.list_runs(
                pipeline=pipeline, status=status, limit=limit, metrics=conditions
            )
        return [Run(r, self) for r in records]

    def run(self, ref: str) -> Run:
        """A run by id, unique id prefix, or ``latest``."""
        self._reap()
        meta = self.stores.metadata
        return Run(meta.get_run(meta.resolve_run_id(ref)), self)

    def resume(self, run: Run | str) -> Run:
        """Start a new run of a failed, crashed or cancelled run's pipeline that reuses
        every step that completed and reruns the rest (and what depends on them).

        The steps are found from the spec recorded with the run, so they must be
        importable (defined at module level) or defined in a notebook, whose cell source
        the spec carries; a step whose code changed since runs the current code."""
        from headrace.hashing import code_fingerprint
        from headrace.orchestrators import load_orchestrator
        from headrace.runner.functions import resolve_function
        from headrace.runner.scheduler import Reuse
        from headrace.spec.types import PipelineSpec
        from headrace.stack import Stack

        old = run if isinstance(run, Run) else self.run(run)
        old = old.refresh()
        if old.status in ("running", "completed"):
            raise HeadraceError(
                f"run {old.id[:12]} is {old.status}: only a failed, crashed or cancelled run can be resumed"
            )
        spec = PipelineSpec.from_dict(old.record.spec)
        functions = {s.name: resolve_function(s.function, step=s.name) for s in spec.steps}
        # Rerun steps with the code as it is now, and record its fingerprint.
        spec = dataclasses.replace(
            spec,
            steps=tuple(
                dataclasses.replace(s, code_hash=code_fingerprint(functions[s.name]))
                for s in spec.steps
            ),
        )
        reuse = {
            s.name: Reuse(run_id=old.id, outputs=dict(s.record.outputs))
            for s in old.steps.values()
            if s.status == "completed"
        }
        stack = Stack(self.settings, load_orchestrator(self.settings.orchestrator))
        run_id = stack.run(
            spec, functions=functions, origin_run_id=old.id, reuse=reuse, stores=self.stores
        )
        return self.run(run_id)

    # -- artifacts ----------------------------------------------------------------------------
    def artifact(self, name: str, version: int | None = None) -> ArtifactVersion:
        """The latest version of an artifact, or a given version number."""
        return ArtifactVersion(self.stores.metadata.get_artifact_version(name, version), self)

    def artifacts(self, name: str | None = None, limit: int | None = None) -> list[ArtifactVersion]:
        """Artifact versions, newest first; all names or one."""
        records = self.stores.metadata.list_artifact_versions(name=name, limit=limit)
        return [ArtifactVersion(r, self) for r in records]

    def artifact_by_id(self, artifact_version_id: str) -> ArtifactVersion:
        return ArtifactVersion(
            self.stores.metadata.get_artifact_version_by_id(artifact_version_id), self
        )

    def lineage(self, artifact: ArtifactVersion | str) -> Lineage:
        """Lineage of an artifact version (or of the latest version of a name)."""
        target = self.artifact(artifact) if isinstance(artifact, str) else artifact
        return Lineage(target, self)

    def environment(self, env_hash: str) -> dict[str, Any]:
        return self.stores.metadata.get_environment(env_hash)

    # -- models -------------------------------------------------------------------------------
    def model(self, name: str) -> RegisteredModel:
        """A registered model: ``.version("production")``, ``.promote(...)``, ``.history()``."""
        from headrace.models.registry import RegisteredModel

        return RegisteredModel(name, self)

    def models(self) -> list[ModelRecord]:
        """Every registered model with its latest version number and aliases."""
        return self.stores.metadata.registry.list_models()


@dataclass(frozen=True)
class Run:
    """One execution of a pipeline."""

    record: RunRecord
    client: Client = field(repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def pipeline(self) -> str:
        return self.record.pipeline

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def parameters(self) -> dict[str, Any]:
        return self.record.parameters

    @property
    def error(self) -> str | None:
        return self.record.error

    @property
    def origin_run_id(self) -> str | None:
        """The run this one resumed, if any."""
        return self.record.origin_run_id

    @property
    def stack(self) -> dict[str, Any] | None:
        """The stack it ran on: component flavors and options as given (credentials only
        as the names of the variables that hold them)."""
        return self.record.stack

    @property
    def duration(self) -> float | None:
        if self.record.started_at is None or self.record.ended_at is None:
            return None
        return self.record.ended_at - self.record.started_at

    @cached_property
    def steps(self) -> dict[str, StepRun]:
        """Step runs by invocation name, in the order they started; their input and
        output artifact versions are fetched together, in one query."""
        meta = self.client.stores.metadata
        records = meta.get_step_runs(self.id)
        ids = {v for r in records for v in (*r.inputs.values(), *r.outputs.values())}
        artifacts = meta.get_artifact_versions_by_ids(ids)
        return {r.name: StepRun(r, self.client, artifacts) for r in records}

    def metrics(self) -> dict[str, float]:
        """The last value of every metric the run's steps logged with ``log_metric``
        (what ``headrace runs list --where`` compares); histories are on each step."""
        values = self.client.stores.metadata.last_metric_values([self.id])
        return dict(sorted(values.get(self.id, {}).items()))

    @cached_property
    def environment(self) -> dict[str, Any]:
        """The environment snapshot: Python, OS, packages, git state, pipeline source."""
        if self.record.environment_hash is None:
            return {}
        return self.client.environment(self.record.environment_hash)

    def refresh(self) -> Run:
        return self.client.run(self.id)

    def __repr__(self) -> str:
        return f"Run(id={self.id[:12]!r}, pipeline={self.pipeline!r}, status={self.status!r})"


@dataclass(frozen=True)
class StepRun:
    """One execution of a step within a run."""

    record: StepRunRecord
    client: Client = field(repr=False, compare=False)
    # Artifact versions already fetched with the run (id -> record); others are looked up.
    prefetched: dict[str, ArtifactVersionRecord] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def cache_hit(self) -> bool:
        return self.record.cache_hit

    @property
    def cache_reason(self) -> str | None:
        return self.record.cache_reason

    @property
    def cache_key(self) -> str | None:
        return self.record.cache_key

    @property
    def error(self) -> str | None:
        return self.record.error

    @property
    def metadata(self) -> dict[str, Any]:
        return self.record.metadata

    @property
    def run_id(self) -> str:
        return self.record.run_id

    def logs(self) -> str:
        """What the step printed and logged (stdout, stderr, ``logging`` records), as
        stored so far: a running step's log grows, a crashed step's keeps what it wrote
        up to its last flush. ``metadata["logs"]`` says whether the cap cut it short."""
        from headrace.runner.logs import read

        return read(self.client.stores.artifacts, self.record.run_id, self.record.id)

    @property
    def duration(self) -> float | None:
        if self.record.started_at is None or self.record.ended_at is None:
            return None
        return self.record.ended_at - self.record.started_at

    def metrics(self, name: str | None = None) -> dict[str, list[MetricPoint]]:
        """The metric history this step logged with ``log_metric``: name -> its points
        (value, step, timestamp) in logging order; ``name`` for one metric only."""
        found: dict[str, list[MetricPoint]] = {}
        for point in self.client.stores.metadata.get_metric_points(self.id, name):
            found.setdefault(point.name, []).append(point)
        return found

    @cached_property
    def inputs(self) -> dict[str, ArtifactVersion]:
        return self._artifacts(self.record.inputs)

    @cached_property
    def outputs(self) -> dict[str, ArtifactVersion]:
        return self._artifacts(self.record.outputs)

    def _artifacts(self, ids: dict[str, str]) -> dict[str, ArtifactVersion]:
        missing = [i for i in ids.values() if i not in self.prefetched]
        found = {**self.prefetched}
        if missing:
            found.update(self.client.stores.metadata.get_artifact_versions_by_ids(missing))
        return {name: ArtifactVersion(found[i], self.client) for name, i in ids.items()}

    def __repr__(self) -> str:
        return f"StepRun(name={self.name!r}, status={self.status!r}, cache_hit={self.cache_hit})"


@dataclass(frozen=True)
class ArtifactVersion:
    """One stored version of a named artifact."""

    record: ArtifactVersionRecord
    client: Client = field(repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def version(self) -> int:
        return self.record.version

    @property
    def hash(self) -> str:
        return self.record.hash

    @property
    def uri(self) -> str:
        return self.record.uri

    @property
    def type(self) -> str:
        return self.record.type

    @property
    def materializer(self) -> str:
        return self.record.materializer

    @property
    def size(self) -> int:
        return self.record.size

    @property
    def metadata(self) -> dict[str, Any]:
        return self.record.metadata

    @property
    def producer_run_id(self) -> str | None:
        return self.record.producer_run_id

    def load(self) -> Any:
        """The Python object, verified against its content hash before it is read."""
        from headrace.runner.step_runner import load_artifact

        return load_artifact(self.client.stores, self.record)

    def __repr__(self) -> str:
        return (
            f"ArtifactVersion(name={self.name!r}, version={self.version}, hash={self.hash[:12]!r})"
        )


class Lineage:
    """Where an artifact version came from (``upstream``) and what used it (``downstream``)."""

    def __init__(self, artifact: ArtifactVersion, client: Client) -> None:
        self.artifact = artifact
        self.client = client

    def upstream(self) -> LineageView:
        return LineageView(
            self.client.stores.metadata.lineage_upstream(self.artifact.id), self.client
        )

    def downstream(self) -> LineageView:
        return LineageView(
            self.client.stores.metadata.lineage_downstream(self.artifact.id), self.client
        )


class LineageView:
    """A lineage graph: artifact versions, the step runs between them, and edges."""

    def __init__(self, graph: LineageGraph, client: Client) -> None:
        self.graph = graph
        self.client = client

    @property
    def artifacts(self) -> list[ArtifactVersion]:
        """Artifact versions other than the starting one."""
        return [
            ArtifactVersion(r, self.client)
            for i, r in self.graph.artifacts.items()
            if i != self.graph.root
        ]

    @property
    def step_runs(self) -> list[StepRun]:
        return [StepRun(r, self.client) for r in self.graph.step_runs.values()]

    @property
    def edges(self) -> list[tuple[str, str, str]]:
        return [(e.source, e.target, e.name) for e in self.graph.edges]

    def names(self) -> set[str]:
        """Names of the artifacts reached (handy in tests and scripts)."""
        return {a.name for a in self.artifacts}

    def run_ids(self) -> set[str]:
        return {s.record.run_id for s in self.step_runs}

    def __len__(self) -> int:
        return len(self.graph.artifacts) - 1

    def __repr__(self) -> str:
        return f"LineageView({len(self)} artifacts, {len(self.graph.step_runs)} step runs)"
