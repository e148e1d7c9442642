"""Alembic environment: runs on the connection handed in by storefront.db.migrate (sync side of async)."""

from __future__ import annotations

from alembic import context

from storefront.db.migrate import all_metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `storefront migrate`, which passes the database connection")

context.configure(
    connection=connection,
    target_metadata=all_metadata(),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
