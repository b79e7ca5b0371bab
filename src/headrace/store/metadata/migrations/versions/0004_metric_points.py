"""Metric history: the points a step logs with ``log_metric`` (name, value, step, time).

Revision ID: 0004
Revises: 0003 (relinked to follow 0003 when that revision lands)
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "metric_points",
        sa.Column("step_run_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("timestamp", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("step_run_id", "name", "seq", name="pk_metric_points"),
        sa.ForeignKeyConstraint(
            ["step_run_id"], ["step_runs.id"], name="fk_metric_points_step_run_id"
        ),
    )
    op.create_index("ix_metric_points_name", "metric_points", ["name"])


def downgrade() -> None:
    op.drop_table("metric_points")
