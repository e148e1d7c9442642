"""`storefront db backup` and `storefront db migrate-to`: copies of the store, taken safely while it runs."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from storefront.db._database import Database
from storefront.db.migrate import all_metadata, upgrade
from storefront.errors import StorefrontError

__all__ = ["BackupError", "backup_sqlite", "copy_database"]

_BATCH = 2000


class BackupError(StorefrontError):
    pass


async def backup_sqlite(db: Database, target: Path) -> int:
    """Online backup of a SQLite store into `target` (SQLite's backup API: consistent while writers run)."""
    if not db.is_sqlite:
        raise BackupError(
            "online backup is for SQLite; for PostgreSQL use: pg_dump --format=custom --file=FILE DATABASE_URL"
        )
    source_path = db.url.database

    def copy() -> int:
        if not source_path or not Path(source_path).exists():
            raise BackupError(f"no SQLite database at {source_path}")
        if target.exists():
            raise BackupError(f"{target} already exists; choose a new file")
        with sqlite3.connect(source_path) as source, sqlite3.connect(target) as destination:
            source.backup(destination)
            return destination.execute("PRAGMA page_count").fetchone()[0]

    return await asyncio.to_thread(copy)


async def copy_database(source: Database, target: Database, progress: Callable[[str], None] = print) -> dict[str, int]:
    """Copy every table of `source` into a fresh, empty `target` (migrated first); rows copied per table."""
    metadata = all_metadata()
    await upgrade(target)
    async with target.read() as conn:
        for table in metadata.sorted_tables:
            if await conn.scalar(sa.select(sa.func.count()).select_from(table)):
                raise BackupError(f"target database is not empty (table {table.name} has rows)")
    copied: dict[str, int] = {}
    async with source.read() as reader, target.write() as writer:
        for table in metadata.sorted_tables:
            count = 0
            result = await reader.stream(sa.select(table))
            async for batch in result.partitions(_BATCH):
                await writer.execute(sa.insert(table), [row._asdict() for row in batch])
                count += len(batch)
            copied[table.name] = count
            progress(f"{table.name}: {count} rows")
        if writer.dialect.name == "postgresql":
            await _advance_sequences(writer, metadata)
    return copied


async def _advance_sequences(conn: sa.ext.asyncio.AsyncConnection, metadata: sa.MetaData) -> None:
    """Rows were inserted with their ids: move each id sequence past the largest one."""
    for table in metadata.sorted_tables:
        for column in table.primary_key.columns:
            if column.autoincrement is True or (column.autoincrement == "auto" and isinstance(column.type, sa.Integer)):
                await conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                        f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"
                    )
                )
