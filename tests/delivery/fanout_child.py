"""A delivery worker in a process of its own, for the test that kills it: python -m tests.delivery.fanout_child."""

from __future__ import annotations

import argparse
import asyncio
import logging
from datetime import UTC, datetime

from bots.delivery.telegram import TelegramDeliverer
from storefront.clock import ManualClock
from storefront.db import Database
from storefront.outbox_delivery import OutboxDeliveryWorker
from tests.delivery.telegram_client import a_telegram_bot


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("api_url")
    parser.add_argument("now", type=float)
    parser.add_argument("--rate", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    db = Database(args.database_url)
    async with a_telegram_bot(args.api_url, messages_per_second=args.rate, max_retries=3) as bot:
        deliverer = TelegramDeliverer(bot, concurrency=args.concurrency)
        worker = OutboxDeliveryWorker(
            db, ManualClock(datetime.fromtimestamp(args.now, tz=UTC)), {"telegram": deliverer}
        )
        await worker.run()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(main())
