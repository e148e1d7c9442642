"""Migrations 0007 and 0008 create exactly the request tables the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import entitlements.request_tables  # noqa: F401  (adds the tables to the shared metadata)
from storefront.app import App
from storefront.db import metadata

TABLES = ("custom_requests", "request_payments", "request_deliveries")


async def test_the_requests_migrations_match_the_declared_tables(app: App):
    async with app.db.read() as conn:
        differences = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
        )
    mine = [diff for diff in differences if any(table in repr(diff) for table in TABLES)]
    assert mine == []
