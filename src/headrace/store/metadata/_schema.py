"""Tables of the metadata store (SQLAlchemy Core) and the schema revision they match.

Every constraint and index is named explicitly so that the schema ``create_all`` makes
and the one the Alembic revisions build are identical, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import sqlalchemy as sa

#: Revisions this code knows, oldest first; the last one is what ``create_all`` builds.
REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004")
HEAD_REVISION = REVISIONS[-1]

#: Alembic's version table, renamed so other tools in the same database keep theirs.
VERSION_TABLE = "headrace_alembic_version"

metadata = sa.MetaData()

#: Created by ``create_all`` only together with :data:`metadata`, exactly like Alembic.
version_metadata = sa.MetaData()
version_table = sa.Table(
    VERSION_TABLE,
    version_metadata,
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"),
)

environments = sa.Table(
    "environments",
    metadata,
    sa.Column("hash", sa.String(), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint("hash", name="pk_environments"),
)

pipelines = sa.Table(
    "pipelines",
    metadata,
    sa.Column("name", sa.String(), nullable=False),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint("name", name="pk_pipelines"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(), nullable=False),
    sa.Column("pipeline", sa.String(), nullable=False),
    sa.Column("status", sa.String(), nullable=False),
    sa.Column("parameters", sa.JSON(), nullable=False),
    sa.Column("spec", sa.JSON(), nullable=False),
    sa.Column("environment_hash", sa.String(), nullable=True),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.Column("started_at", sa.Double(), nullable=True),
    sa.Column("ended_at", sa.Double(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("origin_run_id", sa.String(), nullable=True),
    # Reserved for crash detection: the process that owns a running run and its pulse.
    sa.Column("heartbeat_at", sa.Double(), nullable=True),
    sa.Column("owner", sa.String(), nullable=True),
    # The stack the run ran on: component kinds, flavors and option names (no secrets).
    sa.Column("stack", sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint("id", name="pk_runs"),
    sa.ForeignKeyConstraint(["pipeline"], ["pipelines.name"], name="fk_runs_pipeline"),
    sa.ForeignKeyConstraint(
        ["environment_hash"], ["environments.hash"], name="fk_runs_environment_hash"
    ),
    sa.ForeignKeyConstraint(["origin_run_id"], ["runs.id"], name="fk_runs_origin_run_id"),
    sa.Index("ix_runs_created_at", "created_at", "id"),
    sa.Index("ix_runs_pipeline_created_at", "pipeline", "created_at", "id"),
    sa.Index("ix_runs_status_created_at", "status", "created_at", "id"),
    sa.Index("ix_runs_environment_hash", "environment_hash"),
    sa.Index("ix_runs_origin_run_id", "origin_run_id"),
)

step_runs = sa.Table(
    "step_runs",
    metadata,
    sa.Column("id", sa.String(), nullable=False),
    sa.Column("run_id", sa.String(), nullable=False),
    sa.Column("name", sa.String(), nullable=False),
    sa.Column("status", sa.String(), nullable=False),
    sa.Column("cache_key", sa.String(), nullable=True),
    sa.Column("cache_hit", sa.Boolean(), nullable=False),
    sa.Column("cache_reason", sa.Text(), nullable=True),
    sa.Column("cache_components", sa.JSON(), nullable=False),
    sa.Column("started_at", sa.Double(), nullable=True),
    sa.Column("ended_at", sa.Double(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("id", name="pk_step_runs"),
    sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_step_runs_run_id"),
    sa.Index("ix_step_runs_run_id", "run_id"),
    sa.Index("ix_step_runs_cache_key", "cache_key"),
    sa.Index("ix_step_runs_name_ended_at", "name", "ended_at"),
)

artifact_versions = sa.Table(
    "artifact_versions",
    metadata,
    sa.Column("id", sa.String(), nullable=False),
    sa.Column("name", sa.String(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("hash", sa.String(), nullable=False),
    sa.Column("uri", sa.Text(), nullable=False),
    sa.Column("type", sa.String(), nullable=False),
    sa.Column("materializer", sa.String(), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("metadata", sa.JSON(), nullable=False),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.Column("producer_step_run_id", sa.String(), nullable=True),
    sa.Column("producer_run_id", sa.String(), nullable=True),
    sa.PrimaryKeyConstraint("id", name="pk_artifact_versions"),
    sa.UniqueConstraint("name", "version", name="uq_artifact_versions_name_version"),
    sa.ForeignKeyConstraint(
        ["producer_step_run_id"], ["step_runs.id"], name="fk_artifact_versions_producer_step_run"
    ),
    sa.ForeignKeyConstraint(
        ["producer_run_id"], ["runs.id"], name="fk_artifact_versions_producer_run"
    ),
    sa.Index("ix_artifact_versions_hash", "hash"),
    sa.Index("ix_artifact_versions_producer_step_run_id", "producer_step_run_id"),
    sa.Index("ix_artifact_versions_producer_run_id", "producer_run_id"),
    sa.Index("ix_artifact_versions_created_at", "created_at", "id"),
)

#: Lineage edges between step runs and the artifact versions they read or wrote.
step_io = sa.Table(
    "step_io",
    metadata,
    sa.Column("step_run_id", sa.String(), nullable=False),
    sa.Column("artifact_version_id", sa.String(), nullable=False),
    sa.Column("direction", sa.String(8), nullable=False),
    sa.Column("name", sa.String(), nullable=False),
    sa.PrimaryKeyConstraint("step_run_id", "direction", "name", name="pk_step_io"),
    sa.CheckConstraint("direction IN ('input', 'output')", name="ck_step_io_direction"),
    sa.ForeignKeyConstraint(["step_run_id"], ["step_runs.id"], name="fk_step_io_step_run_id"),
    sa.ForeignKeyConstraint(
        ["artifact_version_id"], ["artifact_versions.id"], name="fk_step_io_artifact_version_id"
    ),
    sa.Index("ix_step_io_artifact_version_id", "artifact_version_id", "direction"),
)

#: Key/values attached to runs (``entity_kind='run'``) and step runs (``'step_run'``).
metadata_values = sa.Table(
    "metadata_values",
    metadata,
    sa.Column("entity_kind", sa.String(16), nullable=False),
    sa.Column("entity_id", sa.String(), nullable=False),
    sa.Column("key", sa.String(), nullable=False),
    sa.Column("value", sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint("entity_kind", "entity_id", "key", name="pk_metadata_values"),
)

# -- model registry and schedules (revision 0002) -------------------------------------

models = sa.Table(
    "models",
    metadata,
    sa.Column("name", sa.String(), nullable=False),
    sa.Column("description", sa.Text(), nullable=True),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint("name", name="pk_models"),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("id", sa.String(), nullable=False),
    sa.Column("model", sa.String(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("run_id", sa.String(), nullable=True),
    sa.Column("metadata", sa.JSON(), nullable=False),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint("id", name="pk_model_versions"),
    sa.UniqueConstraint("model", "version", name="uq_model_versions_model_version"),
    sa.ForeignKeyConstraint(["model"], ["models.name"], name="fk_model_versions_model"),
    sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_model_versions_run_id"),
    sa.Index("ix_model_versions_run_id", "run_id"),
)

#: Artifact versions a model version links, by role (model, metrics, data, other).
model_version_artifacts = sa.Table(
    "model_version_artifacts",
    metadata,
    sa.Column("model_version_id", sa.String(), nullable=False),
    sa.Column("name", sa.String(), nullable=False),
    sa.Column("artifact_version_id", sa.String(), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.PrimaryKeyConstraint("model_version_id", "name", name="pk_model_version_artifacts"),
    sa.ForeignKeyConstraint(
        ["model_version_id"], ["model_versions.id"], name="fk_mva_model_version_id"
    ),
    sa.ForeignKeyConstraint(
        ["artifact_version_id"], ["artifact_versions.id"], name="fk_mva_artifact_version_id"
    ),
    sa.Index("ix_mva_artifact_version_id", "artifact_version_id"),
)

#: One version per (model, alias).
model_aliases = sa.Table(
    "model_aliases",
    metadata,
    sa.Column("model", sa.String(), nullable=False),
    sa.Column("alias", sa.String(), nullable=False),
    sa.Column("model_version_id", sa.String(), nullable=False),
    sa.Column("updated_at", sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint("model", "alias", name="pk_model_aliases"),
    sa.ForeignKeyConstraint(["model"], ["models.name"], name="fk_model_aliases_model"),
    sa.ForeignKeyConstraint(
        ["model_version_id"], ["model_versions.id"], name="fk_model_aliases_model_version_id"
    ),
    sa.Index("ix_model_aliases_model_version_id", "model_version_id"),
)

#: Every alias move: who, when, from which version to which, why, and the gates checked.
model_promotions = sa.Table(
    "model_promotions",
    metadata,
    sa.Column("id", sa.String(), nullable=False),
    sa.Column("model", sa.String(), nullable=False),
    sa.Column("alias", sa.String(), nullable=False),
    sa.Column("model_version_id", sa.String(), nullable=False),
    sa.Column("previous_version_id", sa.String(), nullable=True),
    sa.Column("actor", sa.String(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=True),
    sa.Column("checks", sa.JSON(), nullable=False),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint("id", name="pk_model_promotions"),
    sa.ForeignKeyConstraint(["model"], ["models.name"], name="fk_model_promotions_model"),
    sa.ForeignKeyConstraint(
        ["model_version_id"], ["model_versions.id"], name="fk_model_promotions_model_version_id"
    ),
    sa.ForeignKeyConstraint(
        ["previous_version_id"],
        ["model_versions.id"],
        name="fk_model_promotions_previous_version_id",
    ),
    sa.Index("ix_model_promotions_model_created_at", "model", "created_at"),
    sa.Index("ix_model_promotions_model_version_id", "model_version_id"),
    sa.Index("ix_model_promotions_previous_version_id", "previous_version_id"),
)

#: Pipelines started on a cron schedule by ``headrace scheduler``.
schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("name", sa.String(), nullable=False),
    sa.Column("target", sa.Text(), nullable=False),
    sa.Column("cron", sa.String(), nullable=False),
    sa.Column("parameters", sa.JSON(), nullable=False),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.Column("next_run_at", sa.Double(), nullable=False),
    sa.Column("last_run_at", sa.Double(), nullable=True),
    sa.Column("last_status", sa.String(), nullable=True),
    sa.Column("running_since", sa.Double(), nullable=True),
    sa.Column("owner", sa.String(), nullable=True),
    sa.PrimaryKeyConstraint("name", name="pk_schedules"),
    sa.Index("ix_schedules_next_run_at", "next_run_at"),
)

#: Named stacks: which flavor of each component, with which options.
stacks = sa.Table(
    "stacks",
    metadata,
    sa.Column("name", sa.String(), nullable=False),
    sa.Column("components", sa.JSON(), nullable=False),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.Column("updated_at", sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint("name", name="pk_stacks"),
)

# -- metric history (revision 0004) --------------------------------------------------

#: Points a step logged with ``log_metric``; ``seq`` orders the points of one name.
metric_points = sa.Table(
    "metric_points",
    metadata,
    sa.Column("step_run_id", sa.String(), nullable=False),
    sa.Column("name", sa.String(), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("step", sa.BigInteger(), nullable=False),
    sa.Column("value", sa.Double(), nullable=False),
    sa.Column("timestamp", sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint("step_run_id", "name", "seq", name="pk_metric_points"),
    sa.ForeignKeyConstraint(["step_run_id"], ["step_runs.id"], name="fk_metric_points_step_run_id"),
    sa.Index("ix_metric_points_name", "name"),
)

#: Tables whose presence means "a headrace store lives here".
TABLE_NAMES: frozenset[str] = frozenset(metadata.tables)
