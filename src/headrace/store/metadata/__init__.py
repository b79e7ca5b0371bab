"""SQL metadata store (SQLAlchemy 2 Core; SQLite embedded, PostgreSQL for teams)."""

from headrace.store.metadata.store import MetadataStore

__all__ = ["MetadataStore"]
