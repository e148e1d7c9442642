from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.dml import Insert

from storefront.db._upsert import insert_ignoring_conflicts

_Convert = Callable[[Any], Any] | None


def insert_new_rows_through_driver(
    conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]], key: str
) -> set[Any]:
    """INSERT ... ON CONFLICT (key) DO NOTHING each row on the driver's cursor; the keys of the rows inserted.

    For hot batch writers on SQLite: SQLAlchemy compiles the statement once, and each column's type still
    converts its value, but SQLAlchemy's own handling of a batch costs more per row than the driver's insert.
    """
    statement = insert_ignoring_conflicts(conn, table, [key])
    inserted = set()
    driver_error = conn.dialect.loaded_dbapi.Error
    cursor = conn.connection.cursor()
    try:
        for row in rows:
            sql, converts = _positional(conn.dialect, statement, tuple(row))
            params = tuple(
                value if convert is None else convert(value)
                for value, convert in zip(row.values(), converts, strict=True)
            )
            try:
                cursor.execute(sql, params)
            except driver_error as error:
                # The error SQLAlchemy would raise, so callers catch one kind whichever way the row went.
                raise sa.exc.DBAPIError.instance(sql, params, error, driver_error, dialect=conn.dialect) from error
            if cursor.rowcount == 1:
                inserted.add(row[key])
    finally:
        cursor.close()
    return inserted


@lru_cache(maxsize=64)  # keyed by the dialect object: one per engine, and tests build many
def _positional(dialect: sa.Dialect, statement: Insert, columns: tuple[str, ...]) -> tuple[str, tuple[_Convert, ...]]:
    """`statement` for rows of `columns` in the dialect's positional paramstyle, and each column's conversion."""
    table = statement.table
    compiled = statement.compile(dialect=dialect, column_keys=list(columns))
    if not compiled.positional or tuple(compiled.positiontup or ()) != columns:
        # Named paramstyles, or columns filled by Python-side defaults: those need SQLAlchemy's own handling.
        raise ValueError(f"{table.name}: cannot insert {columns} through the {dialect.name} driver")
    converts = tuple(table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns)
    return compiled.string, converts
