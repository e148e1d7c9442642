"""Backups, moving a store from SQLite to PostgreSQL, and one scheduler leader among processes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from storefront.app import App
from storefront.config import Settings
from storefront.db import Database
from storefront.db.tables import identities, members, outbox
from storefront.leader import LeaderElection
from tests.conftest import TEST_CATALOG
from tests.databases import ON_POSTGRES, fresh_postgres_database, needs_postgres
from tests.helpers import WEBHOOK_SECRET, member_state
from tests.lifecycle import full_lifecycle
from webhooks.stripe_payloads import StripeEvent


async def a_store_with_history(db_url: str, events) -> None:
    settings = Settings(
        _env_file=None, database_url=db_url, catalog_path=TEST_CATALOG, stripe_webhook_secret=WEBHOOK_SECRET
    )
    app = App(settings)
    await app.migrate()
    for step in full_lifecycle(events):
        await app.inbox.store(StripeEvent.model_validate(step.event), json.dumps(step.event))
    await app.worker.drain()
    await app.close()


async def cli(*args: str, db_url: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "storefront",
        *args,
        env={**os.environ, "DATABASE_URL": db_url, "CATALOG_PATH": str(TEST_CATALOG)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


@pytest.mark.skipif(ON_POSTGRES, reason="online backup is SQLite's")
async def test_backup_of_a_sqlite_store_holds_its_members(tmp_path: Path, db_url: str, events):
    await a_store_with_history(db_url, events)
    code, _, err = await cli("db", "backup", str(tmp_path / "copy.db"), db_url=db_url)
    assert code == 0, err
    counts = []
    for url in (db_url, f"sqlite+aiosqlite:///{tmp_path}/copy.db"):
        db = Database(url)
        async with db.read() as conn:
            counts.append(await conn.scalar(sa.select(sa.func.count()).select_from(outbox)))
        await db.dispose()
    assert counts[0] == counts[1] > 0

    code, _, err = await cli("db", "backup", str(tmp_path / "copy.db"), db_url=db_url)
    assert (code, err.strip()) == (2, f"error: {tmp_path / 'copy.db'} already exists; choose a new file")


@needs_postgres
async def test_migrate_to_copies_a_sqlite_store_into_postgres(tmp_path: Path, events):
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path}/source.db"
    await a_store_with_history(sqlite_url, events)
    async with fresh_postgres_database() as pg_url:
        code, out, err = await cli("db", "migrate-to", pg_url, db_url=sqlite_url)
        assert code == 0, err
        assert "copied" in out and "postgres@" in out

        settings = Settings(
            _env_file=None, database_url=pg_url, catalog_path=TEST_CATALOG, stripe_webhook_secret=WEBHOOK_SECRET
        )
        app = App(settings)
        try:
            state = await member_state(app, "telegram:1001")
            assert (state["granted_tier"], state["subscriptions"][0]["status"]) == (None, "ended")
            async with app.db.write() as conn:  # ids keep counting after the copied ones
                new_id = await conn.scalar(
                    sa.insert(members).values(created_at=app.clock.now()).returning(members.c.id)
                )
                assert new_id > await conn.scalar(sa.select(sa.func.min(identities.c.member_id)))
        finally:
            await app.close()

        code, _, err = await cli("db", "migrate-to", pg_url, db_url=sqlite_url)
        assert code == 2 and "target database is not empty" in err


@needs_postgres
async def test_only_one_process_leads_and_another_takes_over_when_it_dies():
    async with fresh_postgres_database() as url:
        first_db, second_db = Database(url), Database(url)
        led: list[str] = []

        def election(db: Database, name: str) -> LeaderElection:
            async def elected() -> None:
                led.append(name)

            async def deposed() -> None:
                led.append(f"{name} stepped down")

            return LeaderElection(db, on_elected=elected, on_deposed=deposed)

        first, second = election(first_db, "first"), election(second_db, "second")
        try:
            assert await first.try_acquire() is True
            assert await second.try_acquire() is False
            assert await second.try_acquire() is False
            assert led == ["first"]

            await first._conn.invalidate()  # the leader's process dies: its connection, and the lock, go away
            first._conn = None
            await first_db.dispose()
            for _ in range(50):
                if await second.try_acquire():
                    break
                await asyncio.sleep(0.05)
            assert led == ["first", "second"]
        finally:
            await second._release()
            await second_db.dispose()


async def test_a_single_sqlite_process_is_always_the_leader(tmp_path: Path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/one.db")
    started: list[bool] = []

    async def elected() -> None:
        started.append(True)

    async def deposed() -> None:
        started.append(False)

    election = LeaderElection(db, on_elected=elected, on_deposed=deposed)
    assert await election.try_acquire() and await election.try_acquire()
    assert started == [True]
    await db.dispose()
