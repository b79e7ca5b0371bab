"""The SQL metadata store: runs, step runs, artifact versions, lineage, metadata.

Every public method is one transaction (writes begin IMMEDIATE on SQLite) and is
retried on transient database errors; see ``_engine``. Schema creation and migration
happen in :meth:`SqlMetadataStore.open`; see ``_bootstrap``.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from headrace.errors import (
    ArtifactNotFoundError,
    ConfigError,
    RunNotFoundError,
    StackNotFoundError,
    StoreError,
)
from headrace.store.metadata import _lineage, _metrics
from headrace.store.metadata._bootstrap import ensure_schema
from headrace.store.metadata._engine import Database
from headrace.store.metadata._records import (
    RUN_KIND,
    STEP_RUN_KIND,
    SUCCEEDED,
    exists,
    load_artifacts,
    load_step_runs,
    select_runs,
)
from headrace.store.metadata._schema import (
    artifact_versions,
    environments,
    metadata_values,
    pipelines,
    runs,
    stacks,
    step_io,
    step_runs,
)
from headrace.store.metadata._writes import (
    insert_edges,
    insert_ignore,
    insert_new_versions,
    link_existing,
    require_versions,
    upsert_metadata,
)
from headrace.store.records import (
    ArtifactVersionRecord,
    LineageGraph,
    MetricCondition,
    MetricPoint,
    NewArtifactVersion,
    ReusedStepRun,
    RunRecord,
    StackRecord,
    StepRunRecord,
)

if TYPE_CHECKING:
    from headrace.store.metadata.registry import ModelStore

T = TypeVar("T")

_AMBIGUOUS_SHOWN = 5


class SqlMetadataStore:
    """Runs, step runs, artifact versions, lineage edges, metadata and environments.

    Open with :meth:`open`; one instance is safe to share between threads.
    """

    url: str

    def __init__(self, db: Database, schema_action: str | None = None) -> None:
        self._db = db
        self.url = db.url
        self._closed = False
        self._schema_action = schema_action  # "created" / "upgraded" by this open, or None

    @classmethod
    def open(cls, url: str) -> SqlMetadataStore:
        """Open (creating or migrating under a lock) the store at a SQLAlchemy URL.

        ``sqlite:///path/to/headrace.db`` or ``postgresql+psycopg://user@host:port/db``.
        Raises SchemaVersionError if the schema is newer than this code knows,
        StoreError (naming the URL, never a password) if it cannot be opened.
        """
        db = Database(url)
        try:
            action = ensure_schema(db)
        except BaseException:
            db.dispose()
            raise
        return cls(db, action)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SqlMetadataStore:
        """The ``metadata.sqlite`` / ``metadata.postgresql`` flavor: takes no options
        (the URL says everything; a connection's pool size is ``HEADRACE_PG_POOL_SIZE``)."""
        if options:
            raise ConfigError(
                f"the SQL metadata store takes no options, got {', '.join(sorted(options))}"
            )
        return cls.open(url)

    @functools.cached_property
    def registry(self) -> ModelStore:
        """Models, versions, aliases and promotions on this store's database."""
        from headrace.store.metadata.registry import ModelStore

        return ModelStore(self)

    @property
    def schedules(self) -> ModelStore:
        """Schedules and triggers (the same object as :attr:`registry`: one database)."""
        return self.registry

    def close(self) -> None:
        """Release the store's connections. Closing twice is harmless."""
        self._closed = True
        self._db.dispose()

    def __enter__(self) -> SqlMetadataStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqlMetadataStore('{self._db.masked_url}')"

    def _read(self, work: Callable[[Connection], T]) -> T:
        self._check_open()
        return self._db.run(work, write=False)

    def _write(self, work: Callable[[Connection], T]) -> T:
        self._check_open()
        return self._db.run(work, write=True)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"metadata store '{self._db.masked_url}' is closed")

    # -- environments -------------------------------------------------------------
    def put_environment(self, env_hash: str, data: Mapping[str, Any]) -> None:
        """Insert if absent (idempotent, race-safe)."""
        row = {"hash": env_hash, "data": dict(data), "created_at": time.time()}
        self._write(lambda conn: insert_ignore(conn, environments, row, ["hash"]))

    def get_environment(self, env_hash: str) -> dict[str, Any]:
        """The environment snapshot stored under ``env_hash``; StoreError if absent."""

        def work(conn: Connection) -> dict[str, Any]:
            data = conn.execute(
                sa.select(environments.c.data).where(environments.c.hash == env_hash)
            ).scalar()
            if data is None:
                raise StoreError(f"no environment with hash '{env_hash}'")
            return dict(data)

        return self._read(work)

    # -- runs -----------------------------------------------------------------------
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
    ) -> RunRecord:
        """Insert a run with status ``running``. ``owner`` names the process that drives
        it (see :meth:`heartbeat` and :meth:`mark_crashed`)."""

        def work(conn: Connection) -> RunRecord:
            now = time.time()
            if exists(conn, runs.c.id, run_id):
                raise StoreError(f"a run with id '{run_id}' already exists")
            if environment_hash is not None and not exists(
                conn, environments.c.hash, environment_hash
            ):
                raise StoreError(
                    f"run '{run_id}' names environment '{environment_hash}', which is not "
                    "stored: put_environment() it first"
                )
            if origin_run_id is not None and not exists(conn, runs.c.id, origin_run_id):
                raise RunNotFoundError(f"origin run '{origin_run_id}' of run '{run_id}' not found")
            insert_ignore(conn, pipelines, {"name": pipeline, "created_at": now}, ["name"])
            record = RunRecord(
                id=run_id,
                pipeline=pipeline,
                status="running",
                parameters=dict(parameters),
                spec=dict(spec),
                environment_hash=environment_hash,
                created_at=now,
                started_at=started_at,
                ended_at=None,
                origin_run_id=origin_run_id,
                stack=dict(stack) if stack is not None else None,
            )
            conn.execute(
                sa.insert(runs).values(
                    id=record.id,
                    pipeline=record.pipeline,
                    status=record.status,
                    parameters=record.parameters,
                    spec=record.spec,
                    environment_hash=record.environment_hash,
                    created_at=record.created_at,
                    started_at=record.started_at,
                    origin_run_id=record.origin_run_id,
                    owner=owner,
                    heartbeat_at=started_at,
                    stack=record.stack,
                )
            )
            return record

        return self._write(work)

    def finish_run(
        self, run_id: str, *, status: str, ended_at: float, error: str | None = None
    ) -> None:
        """Set a run's final status, end time and error. RunNotFoundError if absent."""

        def work(conn: Connection) -> None:
            updated = conn.execute(
                sa.update(runs)
                .where(runs.c.id == run_id)
                .values(status=status, ended_at=ended_at, error=error)
            )
            if updated.rowcount == 0:
                raise RunNotFoundError(f"no run with id '{run_id}'")

        self._write(work)

    # -- liveness -------------------------------------------------------------------
    def heartbeat(self, run_ids: Sequence[str], at: float) -> None:
        """The owner of these running runs is alive at ``at``."""
        if not run_ids:
            return
        self._write(
            lambda conn: conn.execute(
                sa.update(runs)
                .where(runs.c.id.in_(list(run_ids)), runs.c.status == "running")
                .values(heartbeat_at=at)
            )
        )

    def running_runs(self) -> list[tuple[str, str | None, float | None]]:
        """(id, owner, last heartbeat) of every run whose status is ``running``."""

        def work(conn: Connection) -> list[tuple[str, str | None, float | None]]:
            rows = conn.execute(
                sa.select(runs.c.id, runs.c.owner, runs.c.heartbeat_at).where(
                    runs.c.status == "running"
                )
            )
            return [(row.id, row.owner, row.heartbeat_at) for row in rows]

        return self._read(work)

    def mark_crashed(self, run_id: str, *, at: float, reason: str) -> bool:
        """Mark a still-running run and its running step runs ``crashed``. Returns False
        when the run had finished meanwhile (its own status wins)."""

        def work(conn: Connection) -> bool:
            updated = conn.execute(
                sa.update(runs)
                .where(runs.c.id == run_id, runs.c.status == "running")
                .values(status="crashed", ended_at=at, error=reason)
            )
            if updated.rowcount == 0:
                return False
            conn.execute(
                sa.update(step_runs)
                .where(step_runs.c.run_id == run_id, step_runs.c.status == "running")
                .values(status="crashed", ended_at=at, error=reason)
            )
            return True

        return self._write(work)

    def get_run(self, run_id: str) -> RunRecord:
        """Exact id. RunNotFoundError if absent."""

        def work(conn: Connection) -> RunRecord:
            found = select_runs(conn, [runs.c.id == run_id])
            if not found:
                raise RunNotFoundError(f"no run with id '{run_id}'")
            return found[0]

        return self._read(work)

    def resolve_run_id(self, ref: str) -> str:
        """A full id, a unique id prefix, or ``latest``. RunNotFoundError naming the ref
        (and 'ambiguous' with the candidates when a prefix matches several)."""
        ref = ref.strip()
        if not ref:
            raise RunNotFoundError("no run matches an empty run reference")

        def work(conn: Connection) -> str:
            newest = (runs.c.created_at.desc(), runs.c.id.desc())
            if ref == "latest":
                latest = conn.execute(sa.select(runs.c.id).order_by(*newest).limit(1)).scalar()
                if latest is None:
                    raise RunNotFoundError("no run matches 'latest': the store has no runs yet")
                return str(latest)
            if exists(conn, runs.c.id, ref):
                return ref
            rows = conn.execute(
                sa.select(runs.c.id)
                .where(runs.c.id.startswith(ref, autoescape=True))
                .order_by(*newest)
                .limit(50)
            ).scalars()
            matches = [run_id for run_id in rows if run_id.startswith(ref)]
            if not matches:
                raise RunNotFoundError(f"no run matches '{ref}'")
            if len(matches) > 1:
                shown = ", ".join(matches[:_AMBIGUOUS_SHOWN])
                more = len(matches) > _AMBIGUOUS_SHOWN
                raise RunNotFoundError(
                    f"run reference '{ref}' is ambiguous: it matches {len(matches)}"
                    f"{'+' if len(matches) == 50 else ''} runs ({shown}{', ...' if more else ''}); "
                    "give more characters"
                )
            return str(matches[0])

        return self._read(work)

    def list_runs(
        self,
        *,
        pipeline: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        metrics: Sequence[MetricCondition] = (),
    ) -> list[RunRecord]:
        """Newest first (created_at desc, then id desc); ``metrics``: only runs whose last
        logged value of each named metric meets its condition."""
        _check_page(limit, offset)
        where = []
        if pipeline is not None:
            where.append(runs.c.pipeline == pipeline)
        if status is not None:
            where.append(runs.c.status == status)
        where += _metrics.where_clauses(metrics)
        return self._read(lambda conn: select_runs(conn, where, limit=limit, offset=offset))

    # -- metric history ---------------------------------------------------------------
    def add_metric_points(self, step_run_id: str, points: Sequence[MetricPoint]) -> None:
        """Append points to a step run's metric history, in the order given."""
        points = list(points)

        def work(conn: Connection) -> None:
            if not exists(conn, step_runs.c.id, step_run_id):
                raise StoreError(f"no step run with id '{step_run_id}' (adding metric points)")
            _metrics.insert_points(conn, step_run_id, points)

        if points:
            self._write(work)

    def get_metric_points(self, step_run_id: str, name: str | None = None) -> list[MetricPoint]:
        """A step run's metric points, by name, each name's points in logging order."""
        return self._read(lambda conn: _metrics.select_points(conn, step_run_id, name))

    def last_metric_values(self, run_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """run id -> metric name -> the newest value any step of that run logged."""
        return self._read(lambda conn: _metrics.last_values(conn, run_ids))

    # -- step runs ------------------------------------------------------------------
    def create_step_run(
        self,
        *,
        step_run_id: str,
        run_id: str,
        name: str,
        started_at: float,
        inputs: Mapping[str, str],
    ) -> None:
        """Insert a step run with status ``running`` and its input lineage edges
        (input name -> artifact version id)."""
        inputs = dict(inputs)

        def work(conn: Connection) -> None:
            if not exists(conn, runs.c.id, run_id):
                raise RunNotFoundError(f"no run with id '{run_id}' (creating step '{name}')")
            require_versions(conn, inputs, f"input of step '{name}'")
            conn.execute(
                sa.insert(step_runs).values(
                    id=step_run_id,
                    run_id=run_id,
                    name=name,
                    status="running",
                    cache_hit=False,
                    cache_components={},
                    started_at=started_at,
                    attempts=1,
                )
            )
            insert_edges(conn, step_run_id, "input", inputs)

        self._write(work)

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
    ) -> dict[str, ArtifactVersionRecord]:
        """In ONE transaction: insert a new artifact version per NewArtifactVersion
        (version = previous max for that name + 1, unique per name, race-safe), link
        an existing version id given as ``str`` (cache hits), write output lineage edges,
        step-run metadata and extra per-output metadata (merged into the version's
        metadata), and set the step run's final fields. Returns output name -> record."""
        outputs = dict(outputs)
        stray = sorted(set(output_metadata) - set(outputs))
        if stray:
            raise StoreError(
                f"step run '{step_run_id}': metadata for outputs it does not have: "
                + ", ".join(stray)
            )
        new_ids = {name: uuid.uuid4().hex for name in outputs}

        def work(conn: Connection) -> dict[str, ArtifactVersionRecord]:
            run_id = conn.execute(
                sa.select(step_runs.c.run_id).where(step_runs.c.id == step_run_id)
            ).scalar()
            if run_id is None:
                raise StoreError(f"no step run with id '{step_run_id}'")
            linked = {name: out for name, out in outputs.items() if isinstance(out, str)}
            records = link_existing(conn, step_run_id, linked, output_metadata)
            fresh = [
                (name, out) for name, out in outputs.items() if isinstance(out, NewArtifactVersion)
            ]
            records.update(
                insert_new_versions(conn, str(run_id), step_run_id, fresh, new_ids, output_metadata)
            )
            insert_edges(conn, step_run_id, "output", {n: r.id for n, r in records.items()})
            upsert_metadata(conn, STEP_RUN_KIND, step_run_id, metadata)
            conn.execute(
                sa.update(step_runs)
                .where(step_runs.c.id == step_run_id)
                .values(
                    status=status,
                    ended_at=ended_at,
                    cache_key=cache_key,
                    cache_components=dict(cache_components),
                    cache_hit=cache_hit,
                    cache_reason=cache_reason,
                    error=error,
                    attempts=attempts,
                )
            )
            return {name: records[name] for name in outputs}

        return self._write(work)

    def record_reused_steps(self, run_id: str, steps: Sequence[ReusedStepRun]) -> None:
        """Insert completed cache-hit (or resume-reuse) step runs with their input and
        output edges and metadata, all in ONE transaction."""
        steps = list(steps)
        if not steps:
            return

        def work(conn: Connection) -> None:
            if not exists(conn, runs.c.id, run_id):
                raise RunNotFoundError(f"no run with id '{run_id}' (recording reused steps)")
            wanted = sorted({v for s in steps for v in (*s.inputs.values(), *s.outputs.values())})
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                require_versions(conn, {v: v for v in chunk}, "version reused by a step run")
            conn.execute(
                sa.insert(step_runs),
                [
                    {
                        "id": s.step_run_id,
                        "run_id": run_id,
                        "name": s.name,
                        "status": "completed",
                        "cache_hit": True,
                        "cache_key": s.cache_key,
                        "cache_components": dict(s.cache_components),
                        "cache_reason": s.cache_reason,
                        "started_at": s.at,
                        "ended_at": s.at,
                        "attempts": 0,
                    }
                    for s in steps
                ],
            )
            edges = [
                {"step_run_id": s.step_run_id, "artifact_version_id": v, "direction": d, "name": n}
                for s in steps
                for d, mapping in (("input", s.inputs), ("output", s.outputs))
                for n, v in mapping.items()
            ]
            if edges:
                conn.execute(sa.insert(step_io), edges)
            rows = [
                {"entity_kind": STEP_RUN_KIND, "entity_id": s.step_run_id, "key": k, "value": v}
                for s in steps
                for k, v in s.metadata.items()
            ]
            if rows:  # fresh step runs: a plain insert, no upsert needed
                conn.execute(sa.insert(metadata_values), rows)

        self._write(work)

    def record_skipped_step(self, *, run_id: str, name: str, reason: str, at: float) -> None:
        """A step that never ran because something upstream failed.

        Recorded as a step run with status ``skipped``, no start time, ``ended_at=at`` and
        the reason as its ``error``.
        """

        def work(conn: Connection) -> None:
            if not exists(conn, runs.c.id, run_id):
                raise RunNotFoundError(f"no run with id '{run_id}' (skipping step '{name}')")
            conn.execute(
                sa.insert(step_runs).values(
                    id=uuid.uuid4().hex,
                    run_id=run_id,
                    name=name,
                    status="skipped",
                    cache_hit=False,
                    cache_components={},
                    ended_at=at,
                    error=reason,
                    attempts=0,
                )
            )

        self._write(work)

    def get_step_runs(self, run_id: str) -> list[StepRunRecord]:
        """All step runs of a run, in start order, with inputs, outputs and metadata."""

        def work(conn: Connection) -> list[StepRunRecord]:
            found = load_step_runs(conn, step_runs.c.run_id == run_id)
            if not found and not exists(conn, runs.c.id, run_id):
                raise RunNotFoundError(f"no run with id '{run_id}'")
            return found

        return self._read(work)

    def get_step_run(self, step_run_id: str) -> StepRunRecord:
        """One step run by id; StoreError if absent."""

        def work(conn: Connection) -> StepRunRecord:
            found = load_step_runs(conn, step_runs.c.id == step_run_id)
            if not found:
                raise StoreError(f"no step run with id '{step_run_id}'")
            return found[0]

        return self._read(work)

    def find_cached_step_run(self, cache_key: str) -> StepRunRecord | None:
        """Newest *completed* step run with this cache key (its outputs filled in)."""
        where = sa.and_(step_runs.c.cache_key == cache_key, step_runs.c.status.in_(SUCCEEDED))
        return self._newest_step_run(where)

    def previous_step_run(self, *, pipeline: str, step: str) -> StepRunRecord | None:
        """Newest completed step run of that step name in runs of that pipeline
        (used to explain a cache miss)."""
        of_pipeline = sa.select(runs.c.id).where(runs.c.pipeline == pipeline).correlate(None)
        where = sa.and_(
            step_runs.c.name == step,
            step_runs.c.status.in_(SUCCEEDED),
            step_runs.c.run_id.in_(of_pipeline),
        )
        return self._newest_step_run(where)

    def _newest_step_run(self, where: sa.ColumnElement[bool]) -> StepRunRecord | None:
        newest = (step_runs.c.ended_at.desc(), step_runs.c.id.desc())

        def work(conn: Connection) -> StepRunRecord | None:
            found = load_step_runs(conn, where, order_by=newest, limit=1)
            return found[0] if found else None

        return self._read(work)

    # -- metadata ------------------------------------------------------------------
    def add_run_metadata(self, run_id: str, values: Mapping[str, Any]) -> None:
        """Set key/values on a run (a key set again takes the new value)."""
        values = dict(values)

        def work(conn: Connection) -> None:
            if not exists(conn, runs.c.id, run_id):
                raise RunNotFoundError(f"no run with id '{run_id}'")
            upsert_metadata(conn, RUN_KIND, run_id, values)

        self._write(work)

    def add_step_run_metadata(self, step_run_id: str, values: Mapping[str, Any]) -> None:
        """Set key/values on a step run (a key set again takes the new value)."""
        values = dict(values)

        def work(conn: Connection) -> None:
            if not exists(conn, step_runs.c.id, step_run_id):
                raise StoreError(f"no step run with id '{step_run_id}'")
            upsert_metadata(conn, STEP_RUN_KIND, step_run_id, values)

        self._write(work)

    def find_cached_step_runs(self, cache_keys: Iterable[str]) -> dict[str, StepRunRecord]:
        """:meth:`find_cached_step_run` for many keys in a few queries (a large map)."""
        keys = list(dict.fromkeys(cache_keys))
        found: dict[str, StepRunRecord] = {}
        newest = (step_runs.c.ended_at.desc(), step_runs.c.id.desc())
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            where = sa.and_(step_runs.c.cache_key.in_(chunk), step_runs.c.status.in_(SUCCEEDED))

            def work(conn: Connection, where: Any = where) -> list[StepRunRecord]:
                return load_step_runs(conn, where, order_by=newest)

            for record in self._read(work):
                if record.cache_key is not None:
                    found.setdefault(record.cache_key, record)
        return found

    # -- artifact versions ---------------------------------------------------------
    def get_artifact_version(self, name: str, version: int | None = None) -> ArtifactVersionRecord:
        """Latest when version is None. ArtifactNotFoundError naming name (and version)."""

        def work(conn: Connection) -> ArtifactVersionRecord:
            where = artifact_versions.c.name == name
            if version is not None:
                where = sa.and_(where, artifact_versions.c.version == version)
            found = load_artifacts(
                conn, where, order_by=[artifact_versions.c.version.desc()], limit=1
            )
            if found:
                return found[0]
            if version is None:
                raise ArtifactNotFoundError(f"no artifact named '{name}'")
            latest = conn.execute(
                sa.select(sa.func.max(artifact_versions.c.version)).where(
                    artifact_versions.c.name == name
                )
            ).scalar()
            hint = f"latest is {latest}" if latest is not None else "no version of it exists"
            raise ArtifactNotFoundError(f"artifact '{name}' has no version {version} ({hint})")

        return self._read(work)

    def get_artifact_version_by_id(self, artifact_version_id: str) -> ArtifactVersionRecord:
        """One artifact version by id; ArtifactNotFoundError naming the id if absent."""

        def work(conn: Connection) -> ArtifactVersionRecord:
            found = load_artifacts(conn, artifact_versions.c.id == artifact_version_id)
            if not found:
                raise ArtifactNotFoundError(f"no artifact version with id '{artifact_version_id}'")
            return found[0]

        return self._read(work)

    def get_artifact_versions_by_ids(
        self, artifact_version_ids: Iterable[str]
    ) -> dict[str, ArtifactVersionRecord]:
        """Several artifact versions by id in one query; ArtifactNotFoundError naming the
        ids that are absent."""
        wanted = sorted(set(artifact_version_ids))
        if not wanted:
            return {}

        def work(conn: Connection) -> dict[str, ArtifactVersionRecord]:
            found: dict[str, ArtifactVersionRecord] = {}
            for start in range(0, len(wanted), 500):  # bound the IN list
                chunk = wanted[start : start + 500]
                found.update(
                    (r.id, r) for r in load_artifacts(conn, artifact_versions.c.id.in_(chunk))
                )
            missing = [i for i in wanted if i not in found]
            if missing:
                raise ArtifactNotFoundError(
                    f"no artifact version with id {', '.join(repr(i) for i in missing[:5])}"
                )
            return found

        return self._read(work)

    def list_artifact_versions(
        self, *, name: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[ArtifactVersionRecord]:
        """Newest first."""
        _check_page(limit, offset)
        av = artifact_versions
        if name is not None:
            where: sa.ColumnElement[bool] | None = av.c.name == name
            order = [av.c.version.desc()]
        else:
            where = None
            order = [av.c.created_at.desc(), av.c.id.desc()]
        return self._read(
            lambda conn: load_artifacts(conn, where, order_by=order, limit=limit, offset=offset)
        )

    def referenced_hashes(self) -> set[str]:
        """Every content hash any artifact version points at (for gc)."""
        return self._read(
            lambda conn: set(conn.execute(sa.select(artifact_versions.c.hash).distinct()).scalars())
        )

    # -- lineage ---------------------------------------------------------------------
    def lineage_upstream(self, artifact_version_id: str) -> LineageGraph:
        """Transitive: producer step run, its inputs, their producers, ... (recursive CTE)."""
        return self._read(lambda conn: _lineage.upstream(conn, artifact_version_id))

    def lineage_downstream(self, artifact_version_id: str) -> LineageGraph:
        """Transitive: step runs that consumed it, their outputs, their consumers, ..."""
        return self._read(lambda conn: _lineage.downstream(conn, artifact_version_id))

    # -- stacks ---------------------------------------------------------------------
    def put_stack(self, name: str, components: Mapping[str, Mapping[str, Any]]) -> StackRecord:
        """Create or replace the stack ``name``."""
        plain = {kind: dict(value) for kind, value in components.items()}

        def work(conn: Connection) -> StackRecord:
            now = time.time()
            created = conn.execute(
                sa.select(stacks.c.created_at).where(stacks.c.name == name)
            ).scalar()
            if created is None:
                conn.execute(
                    sa.insert(stacks).values(
                        name=name, components=plain, created_at=now, updated_at=now
                    )
                )
                created = now
            else:
                conn.execute(
                    sa.update(stacks)
                    .where(stacks.c.name == name)
                    .values(components=plain, updated_at=now)
                )
            return StackRecord(name, plain, created, now)

        return self._write(work)

    def get_stack(self, name: str) -> StackRecord:
        def work(conn: Connection) -> StackRecord:
            row = conn.execute(sa.select(stacks).where(stacks.c.name == name)).first()
            if row is None:
                raise StackNotFoundError(f"no stack named '{name}'")
            return _stack(row)

        return self._read(work)

    def list_stacks(self) -> list[StackRecord]:
        def work(conn: Connection) -> list[StackRecord]:
            rows = conn.execute(sa.select(stacks).order_by(stacks.c.name)).all()
            return [_stack(row) for row in rows]

        return self._read(work)

    def delete_stack(self, name: str) -> None:
        def work(conn: Connection) -> None:
            gone = conn.execute(sa.delete(stacks).where(stacks.c.name == name)).rowcount
            if not gone:
                raise StackNotFoundError(f"no stack named '{name}'")

        self._write(work)


def _stack(row: Any) -> StackRecord:
    return StackRecord(
        name=row.name,
        components={k: dict(v) for k, v in dict(row.components).items()},
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _check_page(limit: int | None, offset: int) -> None:
    if limit is not None and limit < 0:
        raise ConfigError(f"limit must be >= 0, not {limit}")
    if offset < 0:
        raise ConfigError(f"offset must be >= 0, not {offset}")
