"""Migration 0005 creates exactly the tables entitlements.asset_tables declares."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import entitlements.asset_tables as asset_tables
from storefront.app import App
from storefront.db import metadata

MINE = {name for name in asset_tables.__all__}


def _table_of(difference: Any) -> str | None:
    if isinstance(difference, list):  # column changes come as lists of tuples
        return _table_of(difference[0])
    for part in difference[1:]:
        name = getattr(part, "name", None) if not isinstance(part, str) else None
        table = getattr(part, "table", None)
        if table is not None:
            return table.name
        if name in MINE:
            return name
        if isinstance(part, str) and part in MINE:
            return part
    return None


async def test_migration_0005_matches_the_declared_asset_tables(packs_app: App):
    async with packs_app.db.read() as conn:
        differences = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
        )
        tables = set(await conn.run_sync(lambda sync: sync.dialect.get_table_names(sync)))
    assert tables >= MINE
    assert [d for d in differences if _table_of(d) in MINE] == []
