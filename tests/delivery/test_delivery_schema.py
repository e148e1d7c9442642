"""Migration 0003 creates exactly the delivery ledger the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import storefront.db.delivery_tables  # noqa: F401 - registers the table on the shared metadata
from storefront.app import App
from storefront.db.migrate import all_metadata


async def test_the_delivery_ledger_migration_matches_the_declared_table(app: App):
    async with app.db.read() as conn:
        differences = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), all_metadata())
        )
    assert [diff for diff in differences if "outbox_deliveries" in repr(diff)] == []
