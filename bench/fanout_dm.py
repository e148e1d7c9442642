"""Soak: a fan-out of direct messages through the outbox at Telegram's real limits, against the stand-in.

    .venv/bin/python -m bench.fanout_dm --fans 2000 --rate 30

Prints how long it took, the peak rates the stand-in saw and how many 429s it answered. At 30 messages a
second, 2,000 messages take about 70 s; the test suite runs the same path at 400/s instead.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bots.delivery.telegram import TelegramDeliverer, telegram_rate_limiter
from storefront.clock import SystemClock
from storefront.db import Database
from storefront.db.migrate import upgrade
from storefront.db.tables import identities, members, outbox
from storefront.outbox import OutboxKind, OutboxStatus
from storefront.outbox_delivery import OutboxDeliveryWorker
from storefront.standins.telegram_bot_api import RateLimits, TelegramBotApiStandIn

TOKEN = "7654321:AAH-bench-token"
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


async def run(fans: int, rate: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
        await upgrade(db)
        await seed(db, fans)
        limits = RateLimits(overall_per_second=rate, per_chat_per_second=1)
        async with TelegramBotApiStandIn(TOKEN, limits=limits) as telegram:
            bot = ExtBot(
                TOKEN,
                base_url=f"{telegram.base_url}/bot",
                request=HTTPXRequest(connection_pool_size=concurrency),
                rate_limiter=telegram_rate_limiter(rate),
            )
            async with bot:
                worker = OutboxDeliveryWorker(
                    db, SystemClock(), {"telegram": TelegramDeliverer(bot, concurrency=concurrency)}
                )
                started = time.perf_counter()
                closed = await worker.drain()
                elapsed = time.perf_counter() - started
        await db.dispose()
    per_chat = Counter(call.chat_id for call in telegram.calls_to("sendMessage", outcome="ok"))
    peak = telegram.max_rate_observed()
    print(
        f"{closed} rows in {elapsed:.1f} s ({closed / elapsed:.1f}/s); peak {peak.overall}/s overall "
        f"(limit {rate}), {peak.busiest_chat}/s in one chat; 429s: {telegram.count('sendMessage', outcome='429')}; "
        f"chats messaged twice: {sum(1 for n in per_chat.values() if n > 1)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fans", type=int, default=2000)
    parser.add_argument("--rate", type=int, default=30, help="the stand-in's overall limit, messages per second")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(run(args.fans, args.rate, args.concurrency))


if __name__ == "__main__":
    main()
