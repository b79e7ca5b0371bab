"""Model registry (models, versions, linked artifacts, aliases, promotions) and schedules.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

Written out in full (not derived from ``_schema``), so that later revisions apply to
exactly what this revision built.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_models"),
    )
    op.create_table(
        "model_versions",
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
    )
    op.create_index("ix_model_versions_run_id", "model_versions", ["run_id"])

    op.create_table(
        "model_version_artifacts",
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
    )
    op.create_index(
        "ix_mva_artifact_version_id", "model_version_artifacts", ["artifact_version_id"]
    )

    op.create_table(
        "model_aliases",
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("alias", sa.String(), nullable=False),
        sa.Column("model_version_id", sa.String(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("model", "alias", name="pk_model_aliases"),
        sa.ForeignKeyConstraint(["model"], ["models.name"], name="fk_model_aliases_model"),
        sa.ForeignKeyConstraint(
            ["model_version_id"], ["model_versions.id"], name="fk_model_aliases_model_version_id"
        ),
    )
    op.create_index("ix_model_aliases_model_version_id", "model_aliases", ["model_version_id"])

    op.create_table(
        "model_promotions",
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
            ["model_version_id"],
            ["model_versions.id"],
            name="fk_model_promotions_model_version_id",
        ),
        sa.ForeignKeyConstraint(
            ["previous_version_id"],
            ["model_versions.id"],
            name="fk_model_promotions_previous_version_id",
        ),
    )
    op.create_index(
        "ix_model_promotions_model_created_at", "model_promotions", ["model", "created_at"]
    )
    op.create_index(
        "ix_model_promotions_model_version_id", "model_promotions", ["model_version_id"]
    )
    op.create_index(
        "ix_model_promotions_previous_version_id", "model_promotions", ["previous_version_id"]
    )

    op.create_table(
        "schedules",
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
    )
    op.create_index("ix_schedules_next_run_at", "schedules", ["next_run_at"])


def downgrade() -> None:
    for table in (
        "schedules",
        "model_promotions",
        "model_aliases",
        "model_version_artifacts",
        "model_versions",
        "models",
    ):
        op.drop_table(table)
