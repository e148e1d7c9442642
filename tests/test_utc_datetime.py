"""UTC times are stored as SQLAlchemy's SQLite text (or PostgreSQL timestamptz) and come back aware."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from storefront.app import App
from storefront.db.tables import webhook_events
from tests.databases import ON_POSTGRES
from tests.inbox_rows import event_row

PARIS_WINTER = timezone(timedelta(hours=1))


async def store_and_read(app: App, created: datetime) -> tuple[datetime, str]:
    async with app.db.write() as conn:
        await conn.execute(sa.insert(webhook_events).values(**event_row("evt_1", created=created)))
    async with app.db.read() as conn:
        value = await conn.scalar(sa.select(webhook_events.c.created))
        text = await conn.scalar(sa.text("SELECT CAST(created AS TEXT) FROM webhook_events"))
    return value, text


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (datetime(2026, 11, 23, 16, 23, 51, 123, tzinfo=UTC), "2026-11-23 16:23:51.000123"),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02 03:04:05.000000"),
        (datetime(2026, 11, 23, 17, 0, tzinfo=PARIS_WINTER), "2026-11-23 16:00:00.000000"),
    ],
)
async def test_a_time_round_trips_as_utc(app: App, given: datetime, stored: str):
    value, text = await store_and_read(app, given)
    assert value == given
    assert value.tzinfo is UTC
    if not ON_POSTGRES:
        # The text SQLAlchemy's own DATETIME writes, so rows written before and after compare correctly.
        assert text == stored


async def test_a_time_without_a_zone_is_refused_and_nothing_is_stored(app: App):
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        await store_and_read(app, datetime(2026, 11, 23, 16, 0))
    async with app.db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(webhook_events)) == 0
