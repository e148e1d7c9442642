from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Stores timezone-aware UTC and gives it back aware, on SQLite as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return _SQLiteUTCText()
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value if value.tzinfo is UTC else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _SQLiteUTCText(sqlite.DATETIME):
    """SQLite's DATETIME text, written from an aware UTC datetime by the C `isoformat` instead of a format dict.

    The text is the same as SQLAlchemy's default storage format ("2026-11-23 16:23:51.000123"); every write
    and every comparison with a time binds through here, so the cheaper formatting shows on hot batches.
    """

    def bind_processor(self, dialect: sa.Dialect) -> Callable[[datetime | None], str | None]:
        def process(value: datetime | None) -> str | None:
            # "2026-11-23 16:23:51.000123+00:00" without its offset; the value is UTC already.
            return None if value is None else value.isoformat(" ", "microseconds")[:26]

        return process
