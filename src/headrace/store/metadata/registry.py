"""Model registry and schedule records, on the database of a :class:`MetadataStore`.

``ModelStore.of(metadata_store)`` shares the store's :class:`Database` (engine, retries,
``BEGIN IMMEDIATE`` writes), so no second connection pool is opened. Every public
method is one transaction.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from headrace.errors import ArtifactNotFoundError, ModelNotFoundError, RunNotFoundError, StoreError
from headrace.store.metadata._records import exists
from headrace.store.metadata._schema import (
    artifact_versions,
    model_aliases,
    model_promotions,
    model_version_artifacts,
    model_versions,
    models,
    runs,
    schedules,
)
from headrace.store.metadata._writes import insert_ignore
from headrace.store.records import (
    ARTIFACT_TRIGGER,
    ModelRecord,
    ModelVersionRecord,
    PromotionRecord,
    ScheduleRecord,
)

if TYPE_CHECKING:
    from headrace.store.metadata.store import SqlMetadataStore

T = TypeVar("T")


#: Unique constraints two concurrent writers can both pass before either commits.
_RACES = (
    "uq_model_versions_model_version",
    "model_versions.model, model_versions.version",
    "pk_model_aliases",
    "model_aliases.model, model_aliases.alias",
)


class ModelStore:
    """Models, their versions, linked artifacts, aliases, promotions, and schedules."""

    def __init__(self, metadata: SqlMetadataStore) -> None:
        self._metadata = metadata
        self._db = metadata._db

    @classmethod
    def of(cls, metadata: SqlMetadataStore) -> ModelStore:
        return cls(metadata)

    def _read(self, work: Callable[[Connection], T]) -> T:
        self._metadata._check_open()
        return self._db.run(work, write=False)

    def _write(self, work: Callable[[Connection], T]) -> T:
        self._metadata._check_open()
        for attempt in range(5):
            try:
                return self._db.run(work, write=True)
            except StoreError as exc:
                # Two writers numbered the same version, or moved the same alias, at once
                # (PostgreSQL; SQLite writes are serialized): redo the transaction.
                cause = exc.__cause__
                if (
                    attempt < 4
                    and isinstance(cause, sa_exc.IntegrityError)
                    and any(race in str(cause) for race in _RACES)
                ):
                    continue
                raise
        raise AssertionError("unreachable")

    # -- models and versions ------------------------------------------------------------
    def create_version(
        self,
        model: str,
        *,
        run_id: str | None,
        artifacts: Mapping[str, tuple[str, str]],
        metadata: Mapping[str, Any],
        description: str | None = None,
    ) -> ModelVersionRecord:
        """A new version (previous max + 1) linking ``artifacts`` (name -> (artifact
        version id, role)) and the run that made them."""
        links = dict(artifacts)

        def work(conn: Connection) -> ModelVersionRecord:
            now = time.time()
            if run_id is not None and not exists(conn, runs.c.id, run_id):
                raise RunNotFoundError(f"no run with id '{run_id}'")
            for name, (version_id, _role) in links.items():
                if not exists(conn, artifact_versions.c.id, version_id):
                    raise ArtifactNotFoundError(
                        f"artifact '{name}' of model '{model}': no artifact version '{version_id}'"
                    )
            insert_ignore(
                conn,
                models,
                {"name": model, "description": description, "created_at": now},
                ["name"],
            )
            _lock_model(conn, model)
            latest = conn.execute(
                sa.select(sa.func.max(model_versions.c.version)).where(
                    model_versions.c.model == model
                )
            ).scalar()
            record = ModelVersionRecord(
                id=uuid.uuid4().hex,
                model=model,
                version=int(latest or 0) + 1,
                run_id=run_id,
                metadata=dict(metadata),
                created_at=now,
                artifacts={n: v for n, (v, _) in links.items()},
                roles={n: r for n, (_, r) in links.items()},
            )
            conn.execute(
                sa.insert(model_versions).values(
                    id=record.id,
                    model=model,
                    version=record.version,
                    run_id=run_id,
                    metadata=record.metadata,
                    created_at=now,
                )
            )
            if links:
                conn.execute(
                    sa.insert(model_version_artifacts),
                    [
                        {
                            "model_version_id": record.id,
                            "name": name,
                            "artifact_version_id": version_id,
                            "role": role,
                        }
                        for name, (version_id, role) in links.items()
                    ],
                )
            return record

        return self._write(work)

    def list_models(self) -> list[ModelRecord]:
        def work(conn: Connection) -> list[ModelRecord]:
            latest = dict(
                conn.execute(
                    sa.select(
                        model_versions.c.model, sa.func.max(model_versions.c.version)
                    ).group_by(model_versions.c.model)
                ).all()
            )
            aliases: dict[str, dict[str, int]] = {}
            rows = conn.execute(
                sa.select(model_aliases.c.model, model_aliases.c.alias, model_versions.c.version)
                .join(model_versions, model_versions.c.id == model_aliases.c.model_version_id)
                .order_by(model_aliases.c.alias)
            )
            for row in rows:
                aliases.setdefault(row.model, {})[row.alias] = row.version
            return [
                ModelRecord(
                    name=row.name,
                    description=row.description,
                    created_at=row.created_at,
                    latest_version=latest.get(row.name),
                    aliases=aliases.get(row.name, {}),
                )
                for row in conn.execute(sa.select(models).order_by(models.c.name))
            ]

        return self._read(work)

    def list_versions(self, model: str, *, limit: int | None = None) -> list[ModelVersionRecord]:
        """Newest first."""

        def work(conn: Connection) -> list[ModelVersionRecord]:
            _require_model(conn, model)
            query = (
                sa.select(model_versions)
                .where(model_versions.c.model == model)
                .order_by(model_versions.c.version.desc())
            )
            if limit is not None:
                query = query.limit(limit)
            return _load_versions(conn, list(conn.execute(query)))

        return self._read(work)

    def get_version(self, model: str, ref: int | str) -> ModelVersionRecord:
        """By number, ``"latest"``, an alias name, or a version id."""

        def work(conn: Connection) -> ModelVersionRecord:
            _require_model(conn, model)
            return _resolve(conn, model, ref)

        return self._read(work)

    def get_version_by_id(self, version_id: str) -> ModelVersionRecord:
        def work(conn: Connection) -> ModelVersionRecord:
            rows = list(
                conn.execute(sa.select(model_versions).where(model_versions.c.id == version_id))
            )
            if not rows:
                raise ModelNotFoundError(f"no model version with id '{version_id}'")
            return _load_versions(conn, rows)[0]

        return self._read(work)

    def alias_target(self, model: str, alias: str) -> str | None:
        """The version id an alias points at (one cheap query), or None."""
        return self._read(
            lambda conn: conn.execute(
                sa.select(model_aliases.c.model_version_id).where(
                    model_aliases.c.model == model, model_aliases.c.alias == alias
                )
            ).scalar()
        )

    def versions_of_artifact(self, artifact_version_id: str) -> list[ModelVersionRecord]:
        """Model versions that link this artifact version."""

        def work(conn: Connection) -> list[ModelVersionRecord]:
            ids = sa.select(model_version_artifacts.c.model_version_id).where(
                model_version_artifacts.c.artifact_version_id == artifact_version_id
            )
            rows = list(conn.execute(sa.select(model_versions).where(model_versions.c.id.in_(ids))))
            return _load_versions(conn, rows)

        return self._read(work)

    def update_metadata(self, version_id: str, values: Mapping[str, Any]) -> ModelVersionRecord:
        """Merge ``values`` into a version's metadata: a key set again takes the new value,
        and two dicts under one key are merged (so latency measured for batch size 1 and
        later for 32 keeps both). Read and write happen under a row lock, so concurrent
        updates do not lose each other's keys."""
        values = dict(values)

        def work(conn: Connection) -> ModelVersionRecord:
            current = conn.execute(
                sa.select(model_versions.c.metadata)
                .where(model_versions.c.id == version_id)
                .with_for_update()
            ).scalar()
            if current is None:
                raise ModelNotFoundError(f"no model version with id '{version_id}'")
            merged = dict(current)
            for key, value in values.items():
                old = merged.get(key)
                if isinstance(old, dict) and isinstance(value, dict):
                    merged[key] = {**old, **value}
                else:
                    merged[key] = value
            conn.execute(
                sa.update(model_versions)
                .where(model_versions.c.id == version_id)
                .values(metadata=merged)
            )
            rows = list(
                conn.execute(sa.select(model_versions).where(model_versions.c.id == version_id))
            )
            return _load_versions(conn, rows)[0]

        return self._write(work)

    # -- aliases and promotions --------------------------------------------------------
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
    ) -> PromotionRecord:
        """Point ``alias`` at a version and record the promotion, in one transaction.
        Aliases in ``exclusive`` that point at the same version are removed from it."""

        def work(conn: Connection) -> PromotionRecord:
            now = time.time()
            target = conn.execute(
                sa.select(model_versions.c.version).where(
                    model_versions.c.id == version_id, model_versions.c.model == model
                )
            ).scalar()
            if target is None:
                raise ModelNotFoundError(f"model '{model}' has no version with id '{version_id}'")
            previous = conn.execute(
                sa.select(model_aliases.c.model_version_id, model_versions.c.version)
                .join(model_versions, model_versions.c.id == model_aliases.c.model_version_id)
                .where(model_aliases.c.model == model, model_aliases.c.alias == alias)
            ).first()
            conn.execute(
                sa.delete(model_aliases).where(
                    model_aliases.c.model == model, model_aliases.c.alias == alias
                )
            )
            if exclusive:
                conn.execute(
                    sa.delete(model_aliases).where(
                        model_aliases.c.model == model,
                        model_aliases.c.model_version_id == version_id,
                        model_aliases.c.alias.in_(list(exclusive)),
                    )
                )
            conn.execute(
                sa.insert(model_aliases).values(
                    model=model, alias=alias, model_version_id=version_id, updated_at=now
                )
            )
            record = PromotionRecord(
                id=uuid.uuid4().hex,
                model=model,
                alias=alias,
                model_version_id=version_id,
                version=int(target),
                previous_version_id=previous.model_version_id if previous else None,
                previous_version=int(previous.version) if previous else None,
                actor=actor,
                reason=reason,
                checks=[dict(c) for c in checks],
                created_at=now,
            )
            conn.execute(
                sa.insert(model_promotions).values(
                    id=record.id,
                    model=model,
                    alias=alias,
                    model_version_id=version_id,
                    previous_version_id=record.previous_version_id,
                    actor=actor,
                    reason=reason,
                    checks=record.checks,
                    created_at=now,
                )
            )
            return record

        return self._write(work)

    def history(self, model: str) -> list[PromotionRecord]:
        """Every promotion of the model, newest first."""

        def work(conn: Connection) -> list[PromotionRecord]:
            _require_model(conn, model)
            numbers = dict(
                conn.execute(
                    sa.select(model_versions.c.id, model_versions.c.version).where(
                        model_versions.c.model == model
                    )
                ).all()
            )
            rows = conn.execute(
                sa.select(model_promotions)
                .where(model_promotions.c.model == model)
                .order_by(model_promotions.c.created_at.desc(), model_promotions.c.id.desc())
            )
            return [
                PromotionRecord(
                    id=r.id,
                    model=r.model,
                    alias=r.alias,
                    model_version_id=r.model_version_id,
                    version=int(numbers[r.model_version_id]),
                    previous_version_id=r.previous_version_id,
                    previous_version=(
                        int(numbers[r.previous_version_id]) if r.previous_version_id else None
                    ),
                    actor=r.actor,
                    reason=r.reason,
                    checks=list(r.checks or []),
                    created_at=r.created_at,
                )
                for r in rows
            ]

        return self._read(work)

    # -- schedules ----------------------------------------------------------------------
    def add_schedule(
        self,
        name: str,
        *,
        target: str,
        cron: str,
        parameters: Mapping[str, Any],
        next_run_at: float,
    ) -> ScheduleRecord:
        def work(conn: Connection) -> ScheduleRecord:
            if exists(conn, schedules.c.name, name):
                raise StoreError(f"a schedule named '{name}' already exists")
            row = {
                "name": name,
                "target": target,
                "cron": cron,
                "parameters": dict(parameters),
                "created_at": time.time(),
                "next_run_at": next_run_at,
            }
            conn.execute(sa.insert(schedules).values(**row))
            return _schedule(conn, name)

        return self._write(work)

    def list_schedules(self) -> list[ScheduleRecord]:
        def work(conn: Connection) -> list[ScheduleRecord]:
            rows = conn.execute(sa.select(schedules).order_by(schedules.c.name))
            return [_schedule_from_row(r) for r in rows]

        return self._read(work)

    def remove_schedule(self, name: str) -> None:
        def work(conn: Connection) -> None:
            deleted = conn.execute(sa.delete(schedules).where(schedules.c.name == name))
            if deleted.rowcount == 0:
                raise StoreError(f"no schedule named '{name}'")

        self._write(work)

    def claim_due(self, now: float, owner: str, stale_after: float) -> list[ScheduleRecord]:
        """Mark every due schedule that is not running (or whose claim is older than
        ``stale_after`` seconds) as running by ``owner``, and return them."""

        def work(conn: Connection) -> list[ScheduleRecord]:
            free = sa.or_(
                schedules.c.running_since.is_(None), schedules.c.running_since < now - stale_after
            )
            names = list(
                conn.execute(
                    sa.select(schedules.c.name).where(
                        schedules.c.next_run_at <= now,
                        free,
                        sa.not_(schedules.c.cron.startswith(ARTIFACT_TRIGGER)),
                    )
                ).scalars()
            )
            claimed = []
            for name in names:
                updated = conn.execute(
                    sa.update(schedules)
                    .where(schedules.c.name == name, schedules.c.next_run_at <= now, free)
                    .values(running_since=now, owner=owner)
                )
                if updated.rowcount:
                    claimed.append(_schedule(conn, name))
            return claimed

        return self._write(work)

    def claim_trigger(
        self, name: str, *, seen: float, now: float, owner: str, stale_after: float
    ) -> ScheduleRecord | None:
        """Claim an artifact trigger whose artifact has a version newer than the one it
        last handled (``next_run_at`` holds that version's creation time)."""

        def work(conn: Connection) -> ScheduleRecord | None:
            updated = conn.execute(
                sa.update(schedules)
                .where(
                    schedules.c.name == name,
                    schedules.c.next_run_at < seen,
                    sa.or_(
                        schedules.c.running_since.is_(None),
                        schedules.c.running_since < now - stale_after,
                    ),
                )
                .values(running_since=now, owner=owner)
            )
            return _schedule(conn, name) if updated.rowcount else None

        return self._write(work)

    def finish_schedule(
        self, name: str, *, owner: str, status: str, ran_at: float, next_run_at: float
    ) -> None:
        def work(conn: Connection) -> None:
            conn.execute(
                sa.update(schedules)
                .where(schedules.c.name == name, schedules.c.owner == owner)
                .values(
                    running_since=None,
                    last_run_at=ran_at,
                    last_status=status,
                    next_run_at=next_run_at,
                )
            )

        self._write(work)


# -- helpers ----------------------------------------------------------------------------
#: First key of the PostgreSQL advisory locks that serialize version numbering per model.
_PG_MODEL_LOCK_CLASS = 0x486D  # "Hm"


def _lock_model(conn: Connection, model: str) -> None:
    """Number versions of one model one writer at a time, until the transaction ends.
    SQLite's IMMEDIATE write transaction already holds the only write lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(:cls, hashtext(:name))"),
            {"cls": _PG_MODEL_LOCK_CLASS, "name": model},
        )


def _require_model(conn: Connection, model: str) -> None:
    if not exists(conn, models.c.name, model):
        known = sorted(conn.execute(sa.select(models.c.name).limit(20)).scalars())
        hint = f" (known: {', '.join(known)})" if known else " (no model is registered yet)"
        raise ModelNotFoundError(f"no model named '{model}'{hint}")


def _resolve(conn: Connection, model: str, ref: int | str) -> ModelVersionRecord:
    mv = model_versions
    query = sa.select(mv).where(mv.c.model == model)
    text = str(ref).strip()
    if isinstance(ref, int) or text.isdigit():
        rows = list(conn.execute(query.where(mv.c.version == int(text))))
        what = f"version {text}"
    elif text == "latest":
        rows = list(conn.execute(query.order_by(mv.c.version.desc()).limit(1)))
        what = "any version"
    else:
        target = conn.execute(
            sa.select(model_aliases.c.model_version_id).where(
                model_aliases.c.model == model, model_aliases.c.alias == text
            )
        ).scalar()
        rows = list(conn.execute(query.where(mv.c.id == (target or text))))
        what = f"alias or version id '{text}'"
    if not rows:
        aliases = sorted(
            conn.execute(
                sa.select(model_aliases.c.alias).where(model_aliases.c.model == model)
            ).scalars()
        )
        hint = f"; aliases: {', '.join(aliases)}" if aliases else "; it has no aliases"
        raise ModelNotFoundError(f"model '{model}' has no {what}{hint}")
    return _load_versions(conn, rows)[0]


def _load_versions(conn: Connection, rows: list[Any]) -> list[ModelVersionRecord]:
    ids = [r.id for r in rows]
    if not ids:
        return []
    links: dict[str, dict[str, tuple[str, str]]] = {}
    for link in conn.execute(
        sa.select(model_version_artifacts).where(
            model_version_artifacts.c.model_version_id.in_(ids)
        )
    ):
        links.setdefault(link.model_version_id, {})[link.name] = (
            link.artifact_version_id,
            link.role,
        )
    aliases: dict[str, list[str]] = {}
    for alias in conn.execute(
        sa.select(model_aliases.c.model_version_id, model_aliases.c.alias)
        .where(model_aliases.c.model_version_id.in_(ids))
        .order_by(model_aliases.c.alias)
    ):
        aliases.setdefault(alias.model_version_id, []).append(alias.alias)
    return [
        ModelVersionRecord(
            id=r.id,
            model=r.model,
            version=int(r.version),
            run_id=r.run_id,
            metadata=dict(r.metadata or {}),
            created_at=r.created_at,
            artifacts={n: v for n, (v, _) in links.get(r.id, {}).items()},
            roles={n: role for n, (_, role) in links.get(r.id, {}).items()},
            aliases=tuple(aliases.get(r.id, ())),
        )
        for r in rows
    ]


def _schedule(conn: Connection, name: str) -> ScheduleRecord:
    row = conn.execute(sa.select(schedules).where(schedules.c.name == name)).first()
    if row is None:
        raise StoreError(f"no schedule named '{name}'")
    return _schedule_from_row(row)


def _schedule_from_row(row: Any) -> ScheduleRecord:
    return ScheduleRecord(
        name=row.name,
        target=row.target,
        cron=row.cron,
        parameters=dict(row.parameters or {}),
        created_at=row.created_at,
        next_run_at=row.next_run_at,
        last_run_at=row.last_run_at,
        last_status=row.last_status,
        running_since=row.running_since,
        owner=row.owner,
    )
