"""Alembic revisions, one module per revision, oldest first."""
