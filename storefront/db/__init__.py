"""Database access: SQLAlchemy Core, async; SQLite by default, PostgreSQL through asyncpg."""

from __future__ import annotations

from storefront.db._database import Database
from storefront.db._group_commit import BatchWriter, GroupCommitter, Outcome, RowInserter
from storefront.db._types import UTCDateTime
from storefront.db._upsert import insert_ignore
from storefront.db.tables import metadata

__all__ = [
    "BatchWriter",
    "Database",
    "GroupCommitter",
    "Outcome",
    "RowInserter",
    "UTCDateTime",
    "insert_ignore",
    "metadata",
]
