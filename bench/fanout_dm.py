"""Soak: a fan-out of direct messages through the outbox at Telegram's real limits, against the stand-in.

    .venv/bin/python -m bench.fanout_dm --fans 2000 --rate 30

Benchmark case 3: the sustained rate as a share of the stand-in's limit, the peak in any second, and
duplicates and misses (which must be 0), also with the worker stopped halfway and restarted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from telegram.ext import ExtBot

from bench.report import Figure, print_case
from bench.servers import free_port, process
from bench.telegram_process import TOKEN
from bots.delivery.telegram import TelegramDeliverer
from bots.delivery.telegram_pace import telegram_rate_limiter
from bots.telegram_http import AiohttpRequest
from storefront.clock import SystemClock
from storefront.collector import collect_young_objects_less_often, tuned_for_bursts
from storefront.db import Database
from storefront.db.migrate import upgrade
from storefront.db.tables import identities, members, outbox
from storefront.outbox import OutboxKind, OutboxStatus
from storefront.outbox_delivery import OutboxDeliveryWorker

FIRST_FAN = 500_000


async def seed(db: Database, fans: int) -> None:
    now = datetime.now(UTC)
    async with db.write() as conn:
        await conn.execute(sa.insert(members), [{"id": n, "created_at": now} for n in range(1, fans + 1)])
        await conn.execute(
            sa.insert(identities),
            [{"identity": f"telegram:{FIRST_FAN + n}", "member_id": n, "created_at": now} for n in range(1, fans + 1)],
        )
        await conn.execute(
            sa.insert(outbox),
            [
                {
                    "key": f"bench:{n}",
                    "kind": OutboxKind.NOTIFY.value,
                    "member_id": n,
                    "payload": {"template": "bench", "text": f"Your pack is ready, fan {n}.", "buttons": []},
                    "status": OutboxStatus.PENDING.value,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for n in range(1, fans + 1)
            ],
        )


async def _deliver(db: Database, base_url: str, rate: int, concurrency: int, stop_after: int | None) -> float:
    """Run the delivery worker until every row is closed (or `stop_after` messages went out); seconds spent."""
    bot = ExtBot(
        TOKEN,
        base_url=f"{base_url}/bot",
        request=AiohttpRequest(concurrency),
        rate_limiter=telegram_rate_limiter(rate),
    )
    async with bot:
        # As `storefront run` runs once started (storefront.app.running).
        with tuned_for_bursts():
            deliverer = TelegramDeliverer(bot, concurrency=concurrency)
            worker = OutboxDeliveryWorker(db, SystemClock(), {"telegram": deliverer})
            return await _run_until_delivered(db, worker, stop_after)


async def _run_until_delivered(db: Database, worker: OutboxDeliveryWorker, stop_after: int | None) -> float:
    started = time.perf_counter()
    task = asyncio.create_task(worker.run())
    try:
        while True:
            await asyncio.sleep(0.2)
            async with db.read() as conn:
                counts = dict(
                    (await conn.execute(sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status))).all()
                )
            if stop_after is not None and counts.get(OutboxStatus.DELIVERED.value, 0) >= stop_after:
                break
            if not counts.get(OutboxStatus.PENDING.value):
                break
    finally:
        task.cancel()  # a stop: steps under way finish and are recorded, then the worker exits
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return time.perf_counter() - started


async def run(
    fans: int = 10_000,
    rate: int = 300,
    concurrency: int = 32,
    stop_halfway: bool = False,
    database_url: str | None = None,
) -> list[Figure]:
    with tempfile.TemporaryDirectory() as folder:
        db = Database(database_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
        await upgrade(db)
        await seed(db, fans)
        port, seen_file = free_port(), Path(folder) / "telegram.json"
        # Telegram runs elsewhere: the stand-in gets a process of its own, so it does not take the deliverer's CPU.
        async with process(["-m", "bench.telegram_process", str(port), str(rate), str(seen_file)], None):
            base_url = f"http://127.0.0.1:{port}"
            elapsed = await _deliver(db, base_url, rate, concurrency, fans // 2 if stop_halfway else None)
            if stop_halfway:
                elapsed += await _deliver(db, base_url, rate, concurrency, None)
        await db.dispose()
        seen = json.loads(seen_file.read_text())
    per_chat = {chat: int(count) for chat, count in seen["sent_per_chat"].items()}
    duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
    misses = fans - len(per_chat)
    end_to_end = sum(per_chat.values()) / elapsed
    # Messages 2..n over the time from the first to the last, as Telegram would see them arrive.
    sustained = (sum(per_chat.values()) - 1) / seen["sending_seconds"] if seen["sending_seconds"] else 0.0
    peak = seen["peak_overall"]
    title = f"Fan-out: {fans:,} DMs through the Bot API stand-in limited to {rate}/s"
    title += " (PostgreSQL)" if database_url else " (SQLite)"
    figures = [
        Figure("sustained rate", sustained, "msg/s", rate, ">= 0.95 x limit", sustained >= 0.95 * rate),
        Figure("end to end, with start-up", end_to_end, "msg/s", rate),
        Figure("peak rate in any second", peak, "msg/s", rate, "<= limit", peak <= rate),
        Figure("duplicates", duplicates, "msgs", None, "0", duplicates == 0),
        Figure("misses", misses, "msgs", None, "0", misses == 0),
    ]
    print_case(
        title + (" (stopped at 50% and restarted)" if stop_halfway else ""),
        figures,
        [
            f"429 answers: {seen['too_many_requests']}; busiest chat {seen['busiest_chat_per_second']}/s",
            "baseline: the stand-in's own limit",
        ],
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fans", type=int, default=2000)
    parser.add_argument("--rate", type=int, default=30, help="the stand-in's overall limit, messages per second")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--stop-halfway", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    asyncio.run(run(args.fans, args.rate, args.concurrency, args.stop_halfway))


if __name__ == "__main__":
    collect_young_objects_less_often()  # as the storefront command does from its first line
    main()
