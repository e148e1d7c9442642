"""Case 2: webhook ingest. Signed events from 50 concurrent clients over loopback, each processed once."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path

import aiohttp
import sqlalchemy as sa

from bench.report import Figure, percentile, print_case
from bench.servers import free_port, process
from storefront.db import Database
from storefront.db.tables import members, webhook_events
from storefront.demo.stripe_events import StripeEvents, sign_payload
from storefront.demo.world import DEMO_CATALOG

SECRET = "whsec_bench_" + "b" * 24
CLIENTS = 50
WARM_UP = 500


def signed_bodies(count: int) -> list[tuple[str, str]]:
    """`count` events: per subscriber a checkout, a created, a paid invoice, an activation, a renewal."""
    events = StripeEvents()
    bodies = []
    n = 0
    while len(bodies) < count:
        n += 1
        member, customer, sub_id = f"telegram:{100000 + n}", f"cus_b{n}", f"sub_b{n}"
        sub = dict(sub_id=sub_id, customer=customer, member=member, price_id="price_demo_fan_month", unit_amount=500)
        invoice = dict(sub_id=sub_id, customer=customer, member=member, amount=500, paid=True)
        batch = [
            events.event(
                "checkout.session.completed",
                events.checkout_session(
                    mode="subscription", client_reference_id=member, customer=customer, subscription=sub_id
                ),
            ),
            events.event("customer.subscription.created", events.subscription(**sub, status="incomplete")),
            events.event("invoice.paid", events.invoice(**invoice, billing_reason="subscription_create")),
            events.event("customer.subscription.updated", events.subscription(**sub)),
            events.event("invoice.paid", events.invoice(**invoice, billing_reason="subscription_cycle")),
        ]
        for event in batch[: count - len(bodies)]:
            body = json.dumps(event)
            bodies.append((body, sign_payload(body, SECRET)))
    return bodies


async def blast(url: str, bodies: list[tuple[str, str]]) -> tuple[float, list[float], int]:
    """Send all bodies from CLIENTS concurrent clients; (seconds, latencies, non-200 count)."""
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    latencies: list[float] = []
    failures = 0

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal failures
        while not queue.empty():
            body, signature = queue.get_nowait()
            started = time.perf_counter()
            async with session.post(url, data=body, headers={"Stripe-Signature": signature}) as response:
                await response.read()
                failures += response.status != 200
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(CLIENTS)))
        return time.perf_counter() - started, latencies, failures


async def run(count: int = 10_000, database_url: str | None = None) -> list[Figure]:
    # Both servers get the same warm-up before they are timed: events of their own, so the timed ones are new.
    every_body = signed_bodies(WARM_UP + count)
    warm_up, bodies = every_body[:WARM_UP], every_body[WARM_UP:]
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        async with process(["-m", "bench.bare_server", str(port)], port):
            await blast(f"http://127.0.0.1:{port}/stripe/webhook", warm_up)
            base_seconds, base_latencies, _ = await blast(f"http://127.0.0.1:{port}/stripe/webhook", bodies)

        db_url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        env = {
            "DATABASE_URL": db_url,
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "CATALOG_PATH": str(DEMO_CATALOG),
            "STRIPE_API_KEY": "",
        }
        port = free_port()
        # The deployment README describes: a web process answers Stripe, a worker process applies the events.
        web_role = ["-m", "storefront", "run", "--port", str(port), "--role", "web"]
        async with process(web_role, port, env), process(["-m", "storefront", "run", "--role", "worker"], None, env):
            processing_started = time.perf_counter()
            _, _, warm_up_failures = await blast(f"http://127.0.0.1:{port}/stripe/webhook", warm_up)
            ack_seconds, latencies, failures = await blast(f"http://127.0.0.1:{port}/stripe/webhook", bodies)
            failures += warm_up_failures
            db = Database(db_url)
            try:
                while True:
                    async with db.read() as conn:
                        pending = await conn.scalar(
                            sa.select(sa.func.count())
                            .select_from(webhook_events)
                            .where(webhook_events.c.status == "pending")
                        )
                    if not pending:
                        break
                    await asyncio.sleep(0.05)
                processed_seconds = time.perf_counter() - processing_started
                async with db.read() as conn:
                    stored = await conn.scalar(sa.select(sa.func.count()).select_from(webhook_events))
                    processed = await conn.scalar(
                        sa.select(sa.func.count())
                        .select_from(webhook_events)
                        .where(webhook_events.c.status == "processed")
                    )
                    people = await conn.scalar(sa.select(sa.func.count()).select_from(members))
            finally:
                await db.dispose()

    base_rate, ack_rate = count / base_seconds, count / ack_seconds
    figures = [
        Figure("acknowledged events/s", ack_rate, "ev/s", base_rate, ">= 0.5 x baseline", ack_rate >= base_rate / 2),
        Figure("processed events/s", (WARM_UP + count) / processed_seconds, "ev/s", base_rate, "(all processed once)"),
        Figure("ack p50 latency", percentile(latencies, 50) * 1000, "ms", percentile(base_latencies, 50) * 1000),
        Figure("ack p99 latency", percentile(latencies, 99) * 1000, "ms", percentile(base_latencies, 99) * 1000),
    ]
    print_case(
        f"Webhook ingest: {count:,} signed events, {CLIENTS} clients ({'PostgreSQL' if database_url else 'SQLite'})",
        figures,
        [
            f"baseline: bare aiohttp handler that reads the body and answers 200 ({base_rate:,.0f} req/s)",
            f"non-200 answers: {failures}; stored {stored:,}, processed {processed:,}, with the {WARM_UP} warm-up "
            f"events (exactly once: {'yes' if stored == processed == WARM_UP + count and failures == 0 else 'NO'}); "
            f"members created {people:,}",
        ],
    )
    return figures


if __name__ == "__main__":
    asyncio.run(run())
