"""Apply Alembic migrations from async code, on the app's own engine."""

from __future__ import annotations

import importlib
from importlib import resources
from typing import TYPE_CHECKING

import sqlalchemy as sa

from storefront.db._database import Database
from storefront.db.tables import metadata

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["HEAD", "all_metadata", "current_revision", "head_revision", "upgrade"]

# The newest migration. Start-up compares it with the database and loads Alembic (a tenth of a second of
# imports) only when there is something to apply; tests keep it equal to Alembic's own head.
HEAD = "0009"

_alembic_version = sa.table("alembic_version", sa.column("version_num", sa.String))

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
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("storefront") / "migrations"))
    return config


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


async def upgrade(db: Database, revision: str = "heads") -> None:
    """Bring the schema to `revision` (idempotent)."""
    if revision == "heads" and await _recorded_revisions(db) == {HEAD}:
        return
    from alembic import command

    config = _config()

    def _run(sync_conn: sa.Connection) -> None:
        config.attributes["connection"] = sync_conn
        command.upgrade(config, revision)

    async with db.write() as conn:
        await conn.run_sync(_run)


async def _recorded_revisions(db: Database) -> set[str]:
    async with db.read() as conn:
        if not await conn.run_sync(lambda sync: sa.inspect(sync).has_table(_alembic_version.name)):
            return set()
        return set(await conn.scalars(sa.select(_alembic_version.c.version_num)))


async def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with db.read() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
