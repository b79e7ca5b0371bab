"""Alembic migrations of the metadata store (run on open, under a lock; see ``_bootstrap``)."""
