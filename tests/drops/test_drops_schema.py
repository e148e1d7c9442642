"""Migration 0006 creates exactly the drops tables the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import drops.tables  # noqa: F401  (adds the drops tables to the shared metadata)
from storefront.app import App
from storefront.db import metadata


async def test_the_drops_migration_matches_the_declared_tables(app: App):
    async with app.db.read() as conn:
        differences = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
        )
    mine = [diff for diff in differences if "drop" in repr(diff)]
    assert mine == []
