from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert


def insert_ignoring_conflicts(conn: AsyncConnection | sa.Connection, table: sa.Table, conflict_on: list[str]) -> Insert:
    """`INSERT ... ON CONFLICT (conflict_on) DO NOTHING` in the connection's dialect; give rows at execute."""
    return _insert_ignoring(conn.dialect.name == "postgresql", table, tuple(conflict_on))


@cache
def _insert_ignoring(postgres: bool, table: sa.Table, conflict_on: tuple[str, ...]) -> Insert:
    # Built once per table: hot batch writers ask for it on every batch, and statements are immutable
    # (`.values()` and `.returning()` make new ones), so one object serves every caller.
    dialect = postgresql if postgres else sqlite
    return dialect.insert(table).on_conflict_do_nothing(index_elements=list(conflict_on))


async def insert_ignore(conn: AsyncConnection, table: sa.Table, values: dict[str, Any], conflict_on: list[str]) -> bool:
    """Insert a row unless one with the same `conflict_on` values exists; True when it was inserted."""
    result = await conn.execute(insert_ignoring_conflicts(conn, table, conflict_on).values(**values))
    return result.rowcount == 1
