"""Several processes on one PostgreSQL database: never oversold, and one scheduler leader that can die."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from drops import DropInput
from drops.tables import drop_holds, drops
from storefront.app import App
from storefront.config import Settings
from tests.conftest import TEST_CATALOG
from tests.databases import ON_POSTGRES
from tests.helpers import WEBHOOK_SECRET

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="runs on PostgreSQL (TEST_DATABASE=postgres)")


def settings_for(db_url: str, folder: Path) -> Settings:
    return Settings(
        _env_file=None,
        database_url=db_url,
        catalog_path=TEST_CATALOG,
        stripe_webhook_secret=WEBHOOK_SECRET,
        blob_dir=folder / "blobs",
        download_token_key_path=folder / "dl.key",
        license_signing_key_path=folder / "license.pem",
    )


async def test_three_processes_racing_for_a_drop_never_oversell(db_url: str, tmp_path: Path):
    app = App(settings_for(db_url, tmp_path))
    await app.migrate()
    spec = DropInput.parse(
        title="Race",
        description="-",
        price="5.00 USD",
        supply=100,
        per_person_limit=1,
        opens_at=app.clock.now() + timedelta(seconds=2),
    )
    drop = await app.drops.create(spec, creator="discord:1")
    # The child processes use the real clock: wait for the real moment of opening.
    await asyncio.sleep(max(0.0, (drop.opens_at - app.clock.now()).total_seconds()) + 0.05)
    await app.drops.open_due_drops()
    # 3 processes x 600 people of their own, plus 200 people who click in every process at once.
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.multiprocess.claim_child",
            db_url,
            str(drop.id),
            str(10_000 * (i + 1)),
            "600",
            "200",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for i in range(3)
    ]
    outputs = [await child.communicate() for child in children]
    assert all(child.returncode == 0 for child in children), [err.decode()[-2000:] for _, err in outputs]
    won = sum(int(out.decode().strip()) for out, _ in outputs)
    async with app.db.read() as conn:
        holds = await conn.scalar(sa.select(sa.func.count()).select_from(drop_holds))
        busiest = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(drop_holds)
            .group_by(drop_holds.c.member_id)
            .order_by(sa.func.count().desc())
            .limit(1)
        )
    await app.close()
    assert (won, holds, busiest) == (100, 100, 1)


async def _start_worker(db_url: str, folder: Path, port: int) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "CATALOG_PATH": str(TEST_CATALOG),
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "BLOB_DIR": str(folder / "blobs"),
        "DOWNLOAD_TOKEN_KEY_PATH": str(folder / "dl.key"),
        "LICENSE_SIGNING_KEY_PATH": str(folder / "license.pem"),
        "DROP_SWEEP_SECONDS": "1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "storefront",
        "run",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--role",
        "all",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    import aiohttp

    async with aiohttp.ClientSession() as session:
        for _ in range(400):
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return process
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
    raise AssertionError("storefront did not start")


async def test_killing_the_scheduler_leader_hands_the_drop_timers_to_another_process(db_url: str, tmp_path: Path):
    from tests.test_crash_recovery import _free_port

    app = App(settings_for(db_url, tmp_path))
    await app.migrate()
    leader = await _start_worker(db_url, tmp_path, _free_port())  # first up: it takes the advisory lock
    follower = await _start_worker(db_url, tmp_path, _free_port())
    try:
        now = app.clock.now()
        spec = DropInput.parse(
            title="Timed",
            description="-",
            price="5.00 USD",
            supply=5,
            opens_at=now + timedelta(seconds=6),
            closes_at=now + timedelta(seconds=12),
        )
        drop = await app.drops.create(spec, creator="discord:1")
        leader.send_signal(signal.SIGKILL)  # the leader dies before the drop opens
        await leader.wait()

        row = None
        for _ in range(400):  # until the drop closes (about 12 s), checking the database, not a clock
            async with app.db.read() as conn:
                row = (await conn.execute(sa.select(drops).where(drops.c.id == drop.id))).one()
            if row.closed_at is not None:
                break
            await asyncio.sleep(0.1)
        assert row is not None and row.opened_at is not None and row.closed_at is not None
        assert timedelta(0) <= row.opened_at - drop.opens_at < timedelta(seconds=3), "opened on time"
        assert timedelta(0) <= row.closed_at - drop.closes_at < timedelta(seconds=3), "closed on time"
    finally:
        follower.send_signal(signal.SIGTERM)
        await asyncio.wait_for(follower.wait(), 20)
        await app.close()
