"""A fan-out of 2,000 direct messages: under Telegram's limits, each sent once, also across a SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from bots.delivery import TelegramDeliverer
from storefront.app import App
from storefront.clock import ManualClock
from storefront.db.delivery_tables import outbox_deliveries
from storefront.db.tables import identities, members, outbox
from storefront.outbox import OutboxKind, OutboxStatus
from storefront.outbox_delivery import OutboxDeliveryWorker
from storefront.standins.telegram_bot_api import RateLimits, TelegramBotApiStandIn
from tests.delivery.conftest import outbox_statuses
from tests.delivery.telegram_client import TELEGRAM_TOKEN, a_telegram_bot

ROOT = Path(__file__).resolve().parents[2]
FANS = 2000
FIRST_FAN = 500_000
RATE = 400  # the stand-in's overall limit here; Telegram's is 30/s, which would make this test take 70 s
CONCURRENCY = 32


async def fans_each_with_a_message(app: App, fans: int = FANS) -> None:
    now = app.clock.now()
    async with app.db.write() as conn:
        await conn.execute(sa.insert(members), [{"id": n, "created_at": now} for n in range(1, fans + 1)])
        await conn.execute(
            sa.insert(identities),
            [{"identity": f"telegram:{FIRST_FAN + n}", "member_id": n, "created_at": now} for n in range(1, fans + 1)],
        )
        # The rows `storefront.outbox.enqueue` writes, in one statement (2,000 calls would take seconds here).
        await conn.execute(
            sa.insert(outbox),
            [
                {
                    "key": f"pack:2026-11:{n}",
                    "kind": OutboxKind.NOTIFY.value,
                    "member_id": n,
                    "payload": {
                        "template": "pack_ready",
                        "text": f"Your November pack is ready, fan {n}.",
                        "buttons": [],
                    },
                    "status": OutboxStatus.PENDING.value,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for n in range(1, fans + 1)
            ],
        )


async def in_flight_chats(app: App) -> set[int]:
    async with app.db.read() as conn:
        targets = await conn.scalars(
            sa.select(outbox_deliveries.c.target).where(outbox_deliveries.c.status == "sending")
        )
        return {int(target.split(":")[1]) for target in targets}


async def test_fan_out_killed_halfway_resumes_and_sends_each_message_once(
    app: App, clock: ManualClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    await fans_each_with_a_message(app)
    limits = RateLimits(overall_per_second=RATE, per_chat_per_second=1)
    async with TelegramBotApiStandIn(TELEGRAM_TOKEN, clock=clock, limits=limits) as telegram:
        log = (tmp_path / "child.log").open("w")
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.delivery.fanout_child",
            app.settings.database_url,
            telegram.base_url,
            str(clock.now().timestamp()),
            f"--rate={RATE}",
            f"--concurrency={CONCURRENCY}",
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
        try:
            async with asyncio.timeout(60):
                # Watching another process through the stand-in's record: there is no event to await.
                while telegram.count("sendMessage", outcome="ok") < FANS // 2:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
        finally:
            child.send_signal(signal.SIGKILL)
            await child.wait()
            log.close()
        sent_before_kill = telegram.count("sendMessage", outcome="ok")
        in_flight = await in_flight_chats(app)

        async with a_telegram_bot(telegram.base_url, messages_per_second=RATE, max_retries=3) as bot:
            deliverer = TelegramDeliverer(bot, concurrency=CONCURRENCY)
            with caplog.at_level(logging.INFO, logger="storefront.outbox_delivery"):
                closed = await OutboxDeliveryWorker(app.db, clock, {"telegram": deliverer}).drain()

    assert FANS // 2 <= sent_before_kill < FANS
    assert closed >= FANS - sent_before_kill - len(in_flight)
    per_chat = Counter(call.chat_id for call in telegram.calls_to("sendMessage", outcome="ok"))
    assert set(per_chat) == {FIRST_FAN + n for n in range(1, FANS + 1)}
    # Only a step in flight at the kill may be sent twice; every other fan got exactly one message.
    twice = {chat for chat, count in per_chat.items() if count > 1}
    assert twice <= in_flight
    assert len(in_flight) <= CONCURRENCY
    assert max(per_chat.values()) <= 2
    assert sum(per_chat.values()) == FANS + len(twice)
    peak = telegram.max_rate_observed()
    assert peak.overall <= RATE
    assert peak.busiest_chat == 1
    assert set((await outbox_statuses(app)).values()) == {"delivered"}
    progress = [message for message in caplog.messages if message.startswith("outbox delivery: ")]
    assert progress and progress[-1].endswith(" rows done")  # e.g. "outbox delivery: 987/987 rows done"


async def test_stopping_the_worker_lets_messages_under_way_finish_so_a_restart_sends_none_twice(
    app: App, clock: ManualClock
):
    fans = 300
    await fans_each_with_a_message(app, fans)
    limits = RateLimits(overall_per_second=RATE, per_chat_per_second=1)
    async with (
        TelegramBotApiStandIn(TELEGRAM_TOKEN, clock=clock, limits=limits) as telegram,
        a_telegram_bot(telegram.base_url, messages_per_second=RATE, max_retries=3) as bot,
    ):
        deliverer = TelegramDeliverer(bot, concurrency=CONCURRENCY)
        running = asyncio.create_task(OutboxDeliveryWorker(app.db, clock, {"telegram": deliverer}).run())
        async with asyncio.timeout(30):
            while telegram.count("sendMessage", outcome="ok") < fans // 3:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        running.cancel()  # what `storefront run` does on SIGTERM
        with contextlib.suppress(asyncio.CancelledError):
            await running
        assert await in_flight_chats(app) == set()
        # Nothing of the stopped worker lives on (else asyncio warns "Task was destroyed but it is pending").
        assert [task.get_name() for task in asyncio.all_tasks() if task.get_name() == "_Ledger-writer"] == []
        stopped_after = telegram.count("sendMessage", outcome="ok")

        await OutboxDeliveryWorker(app.db, clock, {"telegram": deliverer}).drain()

    assert stopped_after < fans
    per_chat = Counter(call.chat_id for call in telegram.calls_to("sendMessage", outcome="ok"))
    assert set(per_chat) == {FIRST_FAN + n for n in range(1, fans + 1)}
    assert set(per_chat.values()) == {1}
