"""Initial schema: pipelines, runs, step runs, artifact versions, lineage edges,
metadata key/values and environments.

Revision ID: 0001
Revises:
Create Date: 2026-11-27

Written out in full (not derived from ``_schema``), so that later revisions apply to
exactly what this revision built.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "environments",
        sa.Column("hash", sa.String(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("hash", name="pk_environments"),
    )
    op.create_table(
        "pipelines",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_pipelines"),
    )
    op.create_table(
        "runs",
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
        sa.Column("heartbeat_at", sa.Double(), nullable=True),
        sa.Column("owner", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.ForeignKeyConstraint(["pipeline"], ["pipelines.name"], name="fk_runs_pipeline"),
        sa.ForeignKeyConstraint(
            ["environment_hash"], ["environments.hash"], name="fk_runs_environment_hash"
        ),
        sa.ForeignKeyConstraint(["origin_run_id"], ["runs.id"], name="fk_runs_origin_run_id"),
    )
    op.create_index("ix_runs_created_at", "runs", ["created_at", "id"])
    op.create_index("ix_runs_pipeline_created_at", "runs", ["pipeline", "created_at", "id"])
    op.create_index("ix_runs_status_created_at", "runs", ["status", "created_at", "id"])
    op.create_index("ix_runs_environment_hash", "runs", ["environment_hash"])
    op.create_index("ix_runs_origin_run_id", "runs", ["origin_run_id"])

    op.create_table(
        "step_runs",
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
    )
    op.create_index("ix_step_runs_run_id", "step_runs", ["run_id"])
    op.create_index("ix_step_runs_cache_key", "step_runs", ["cache_key"])
    op.create_index("ix_step_runs_name_ended_at", "step_runs", ["name", "ended_at"])

    op.create_table(
        "artifact_versions",
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
            ["producer_step_run_id"],
            ["step_runs.id"],
            name="fk_artifact_versions_producer_step_run",
        ),
        sa.ForeignKeyConstraint(
            ["producer_run_id"], ["runs.id"], name="fk_artifact_versions_producer_run"
        ),
    )
    op.create_index("ix_artifact_versions_hash", "artifact_versions", ["hash"])
    op.create_index(
        "ix_artifact_versions_producer_step_run_id", "artifact_versions", ["producer_step_run_id"]
    )
    op.create_index(
        "ix_artifact_versions_producer_run_id", "artifact_versions", ["producer_run_id"]
    )
    op.create_index("ix_artifact_versions_created_at", "artifact_versions", ["created_at", "id"])

    op.create_table(
        "step_io",
        sa.Column("step_run_id", sa.String(), nullable=False),
        sa.Column("artifact_version_id", sa.String(), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("step_run_id", "direction", "name", name="pk_step_io"),
        sa.CheckConstraint("direction IN ('input', 'output')", name="ck_step_io_direction"),
        sa.ForeignKeyConstraint(["step_run_id"], ["step_runs.id"], name="fk_step_io_step_run_id"),
        sa.ForeignKeyConstraint(
            ["artifact_version_id"],
            ["artifact_versions.id"],
            name="fk_step_io_artifact_version_id",
        ),
    )
    op.create_index(
        "ix_step_io_artifact_version_id", "step_io", ["artifact_version_id", "direction"]
    )

    op.create_table(
        "metadata_values",
        sa.Column("entity_kind", sa.String(16), nullable=False),
        sa.Column("entity_id", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("entity_kind", "entity_id", "key", name="pk_metadata_values"),
    )


def downgrade() -> None:
    for table in (
        "metadata_values",
        "step_io",
        "artifact_versions",
        "step_runs",
        "runs",
        "pipelines",
        "environments",
    ):
        op.drop_table(table)
