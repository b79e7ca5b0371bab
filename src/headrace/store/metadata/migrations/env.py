"""Alembic environment: runs on the connection (and inside the transaction) the store
passes in ``config.attributes["connection"]``. Offline (``--sql``) mode is not offered.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from headrace.store.metadata._schema import VERSION_TABLE, metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "headrace migrations run when a store is opened (MetadataStore.open); "
            "they need the store's connection and cannot run stand-alone"
        )
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        transactional_ddl=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("headrace migrations have no offline (--sql) mode")
run_migrations_online()
