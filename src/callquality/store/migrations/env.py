"""Alembic environment: runs on the connection the application hands over."""

from __future__ import annotations

from alembic import context

from callquality.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the app always passes its connection
    raise RuntimeError("run migrations through callquality.store.db.migrate()")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
