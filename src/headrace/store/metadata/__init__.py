"""SQL metadata store (SQLAlchemy 2 Core; SQLite embedded, PostgreSQL for teams).

Reached through the ``metadata.sqlite`` and ``metadata.postgresql`` flavors; code above
``store/`` sees only :class:`headrace.store.protocols.MetadataStore`.
"""
