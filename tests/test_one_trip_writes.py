"""`Database.write_in_one_trip`: a whole write transaction sent to the database at once (hot batch writers)."""

from __future__ import annotations

import asyncio
import threading

import pytest
import sqlalchemy as sa

from storefront.app import App
from storefront.db.tables import webhook_events
from tests.databases import ON_POSTGRES
from tests.inbox_rows import event_row, stored_ids


def insert_event(conn: sa.Connection, event_id: str) -> None:
    conn.execute(sa.insert(webhook_events).values(**event_row(event_id)))


async def test_the_work_is_committed_and_its_result_returned(app: App):
    def work(conn: sa.Connection) -> int:
        insert_event(conn, "evt_1")
        insert_event(conn, "evt_2")
        return conn.scalar(sa.select(sa.func.count()).select_from(webhook_events))

    assert await app.db.write_in_one_trip(work) == 2
    assert await stored_ids(app) == ["evt_1", "evt_2"]


async def test_an_error_rolls_the_whole_transaction_back_and_reaches_the_caller(app: App):
    def work(conn: sa.Connection) -> None:
        insert_event(conn, "evt_1")
        insert_event(conn, "evt_1")  # the same key twice

    with pytest.raises(sa.exc.IntegrityError):
        await app.db.write_in_one_trip(work)
    assert await stored_ids(app) == []


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's writer thread; PostgreSQL runs the work through run_sync")
async def test_a_cancelled_caller_keeps_other_writers_out_until_its_transaction_ends(app: App):
    inside, release = threading.Event(), threading.Event()

    def slow_work(conn: sa.Connection) -> None:
        insert_event(conn, "evt_slow")
        inside.set()
        release.wait(timeout=30)

    slow = asyncio.create_task(app.db.write_in_one_trip(slow_work))
    await asyncio.to_thread(inside.wait, 30)
    slow.cancel()

    async def other_write() -> None:
        async with app.db.write(urgent=True) as conn:
            await conn.run_sync(insert_event, "evt_other")

    other = asyncio.create_task(other_write())
    await asyncio.sleep(0.2)
    # Queued on the process's write gate behind the transaction the cancelled caller started, not let through to
    # wait on SQLite's lock with its busy-timeout polling.
    assert not other.done()
    assert app.db.urgent_write_waiting()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await slow
    await other
    assert await stored_ids(app) == ["evt_other", "evt_slow"]
