"""Alembic environment, configured in code by `connector_gateway.db.migrate` (no alembic.ini)."""

from __future__ import annotations

from alembic import context
from connector_gateway.db import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations with `connector-gateway migrate` (or connector_gateway.db.migrate)"
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
