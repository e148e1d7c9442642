"""Migration 0007 creates exactly the custom-request table the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import entitlements.request_tables  # noqa: F401  (adds the table to the shared metadata)
from storefront.app import App
from storefront.db import metadata


async def test_the_requests_migration_matches_the_declared_table(app: App):
    async with app.db.read() as conn:
        differences = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
        )
    mine = [diff for diff in differences if "custom_requests" in repr(diff)]
    assert mine == []
