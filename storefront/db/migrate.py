"""Apply Alembic migrations from async code, on the app's own engine."""

from __future__ import annotations

import importlib
from importlib import resources

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from storefront.db._database import Database
from storefront.db.tables import metadata

__all__ = ["all_metadata", "current_revision", "head_revision", "upgrade"]

# Modules whose import adds their tables to `metadata`; listed so Alembic sees every table.
TABLE_MODULES: tuple[str, ...] = (
    "storefront.db.tables",
    "storefront.db.chat_tables",
    "storefront.db.delivery_tables",
    "entitlements.asset_tables",
    "drops.tables",
    "entitlements.request_tables",
)


def all_metadata() -> sa.MetaData:
    for module in TABLE_MODULES:
        importlib.import_module(module)
    return metadata


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("storefront") / "migrations"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


async def upgrade(db: Database, revision: str = "heads") -> None:
    """Bring the schema to `revision` (idempotent)."""
    config = _config()

    def _run(sync_conn: sa.Connection) -> None:
        config.attributes["connection"] = sync_conn
        command.upgrade(config, revision)

    async with db.write() as conn:
        await conn.run_sync(_run)


async def current_revision(db: Database) -> str | None:
    async with db.read() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
