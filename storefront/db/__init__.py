"""Database access: SQLAlchemy Core, async; SQLite by default, PostgreSQL through asyncpg."""

from __future__ import annotations

from storefront.db._database import Database
from storefront.db._group_commit import BatchWriter, Outcome, RowInserter
from storefront.db._in_lists import in_chunks, in_list
from storefront.db._types import UTCDateTime
from storefront.db._upsert import insert_ignore, insert_ignoring_conflicts
from storefront.db.tables import metadata

__all__ = [
    "BatchWriter",
    "Database",
    "Outcome",
    "RowInserter",
    "UTCDateTime",
    "in_chunks",
    "in_list",
    "insert_ignore",
    "insert_ignoring_conflicts",
    "metadata",
]
