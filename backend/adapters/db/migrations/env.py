"""Alembic environment: the engine comes from backend.adapters.db.engine.migrate."""
from alembic import context

import backend.adapters.db.access_tables  # noqa: F401  (its tables join the metadata)
import backend.adapters.db.cluster_tables  # noqa: F401
import backend.adapters.db.lot_view_tables  # noqa: F401
from backend.adapters.db.tables import metadata

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
