"""Rows written concurrently share one INSERT; a bad row fails only the caller who sent it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from storefront.app import App
from storefront.db import RowInserter
from storefront.db.tables import webhook_events
from tests.inbox_rows import NOW, event_row, stored_ids


async def test_a_bad_row_fails_its_caller_and_the_others_are_stored(app: App):
    inserter = RowInserter(app.db, webhook_events, key="id")
    try:
        good = [inserter.insert(event_row(f"evt_{n}")) for n in range(5)]
        outcomes = await asyncio.gather(
            *good, inserter.insert(event_row("evt_bad", payload=None)), return_exceptions=True
        )
    finally:
        await inserter.close()
    assert outcomes[:5] == [True] * 5
    assert isinstance(outcomes[5], sa.exc.IntegrityError)
    assert await stored_ids(app) == [f"evt_{n}" for n in range(5)]


async def test_a_key_sent_twice_in_one_batch_is_new_once_and_a_stored_key_is_not_new(app: App):
    inserter = RowInserter(app.db, webhook_events, key="id")
    try:
        assert await inserter.insert(event_row("evt_old")) is True
        outcomes = await asyncio.gather(*(inserter.insert(event_row(key)) for key in ["evt_a", "evt_a", "evt_old"]))
    finally:
        await inserter.close()
    assert outcomes == [True, False, False]
    assert await stored_ids(app) == ["evt_a", "evt_old"]


@pytest.mark.parametrize("rows", [1, 700])
async def test_every_row_of_a_burst_is_stored_once(app: App, rows: int):
    inserter = RowInserter(app.db, webhook_events, key="id", max_batch=256)
    try:
        outcomes = await asyncio.gather(*(inserter.insert(event_row(f"evt_{n:04}")) for n in range(rows)))
    finally:
        await inserter.close()
    assert outcomes == [True] * rows
    assert len(await stored_ids(app)) == rows


async def test_a_batched_row_is_stored_exactly_as_an_ordinary_insert_stores_it(app: App):
    created = datetime(2026, 11, 23, 16, 23, 51, 123, tzinfo=UTC)
    inserter = RowInserter(app.db, webhook_events, key="id")
    try:
        await inserter.insert(event_row("evt_batched", created=created))
    finally:
        await inserter.close()
    async with app.db.write() as conn:
        await conn.execute(sa.insert(webhook_events).values(event_row("evt_ordinary", created=created)))
    async with app.db.read() as conn:
        rows = (await conn.execute(sa.select(webhook_events).order_by(webhook_events.c.id))).all()
        times_as_stored = (
            await conn.execute(sa.select(sa.cast(webhook_events.c.created, sa.String)).order_by(webhook_events.c.id))
        ).scalars()
        due_ids = (
            await conn.execute(sa.select(webhook_events.c.id).where(webhook_events.c.next_attempt_at <= NOW))
        ).scalars()
        [batched_created, ordinary_created] = list(times_as_stored)
        due = sorted(due_ids)
    [batched, ordinary] = [{**row._asdict(), "id": None} for row in rows]
    assert batched == ordinary
    assert rows[0].created == created
    assert batched_created == ordinary_created
    assert due == ["evt_batched", "evt_ordinary"]
