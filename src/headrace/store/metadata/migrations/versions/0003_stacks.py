"""Named stacks, and the stack each run ran on.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

Written out in full (not derived from ``_schema``), so that later revisions apply to
exactly what this revision built.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "stacks",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_stacks"),
    )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("stack", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("stack")
    op.drop_table("stacks")
