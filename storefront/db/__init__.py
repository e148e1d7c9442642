"""Database access: SQLAlchemy Core, async; SQLite by default, PostgreSQL through asyncpg."""

from __future__ import annotations

from storefront.db._database import Database
from storefront.db._group_commit import GroupCommitter
from storefront.db._types import UTCDateTime
from storefront.db._upsert import insert_ignore
from storefront.db.tables import metadata

__all__ = ["Database", "GroupCommitter", "UTCDateTime", "insert_ignore", "metadata"]
