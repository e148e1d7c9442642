"""Case 2: webhook ingest. Signed events from 50 concurrent clients over loopback, each processed once."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import sqlalchemy as sa

from bench.report import Figure, percentile, print_case
from bench.servers import free_port, process
from storefront.db import Database
from storefront.db.tables import members, webhook_events
from storefront.demo.stripe_events import StripeEvents, sign_payload
from storefront.demo.world import DEMO_CATALOG
from webhooks.inbox import InboxStatus

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


@dataclass(frozen=True)
class _Served:
    """One storefront deployment's run of the burst: its acknowledgements, then its processing of them."""

    ack_seconds: float
    latencies: list[float]
    failures: int
    processed_seconds: float
    stored: int
    processed: int
    people: int

    def exactly_once(self, events: int) -> bool:
        return self.stored == self.processed == events and self.failures == 0


def _storefront_env(db_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": db_url,
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "CATALOG_PATH": str(DEMO_CATALOG),
        "STRIPE_API_KEY": "",
    }


def _storefront(port: int | None, role: str) -> list[str]:
    return ["-m", "storefront", "run", *(["--port", str(port)] if port else []), "--role", role]


async def _acknowledge(
    url: str, warm_up: list[tuple[str, str]], bodies: list[tuple[str, str]]
) -> tuple[float, list[float], int]:
    """The warm-up, then the timed burst: (seconds, latencies, non-200 answers of both)."""
    _, _, warm_up_failures = await blast(url, warm_up)
    seconds, latencies, failures = await blast(url, bodies)
    return seconds, latencies, failures + warm_up_failures


async def _processed(db_url: str) -> tuple[int, int, int]:
    """Once nothing is pending: (events stored, events processed, members created)."""
    by_status = sa.select(webhook_events.c.status, sa.func.count()).group_by(webhook_events.c.status)
    db = Database(db_url)
    try:
        while True:
            async with db.read() as conn:
                counts: dict[str, int] = dict((await conn.execute(by_status)).tuples().all())
            if not counts.get(InboxStatus.PENDING.value):
                break
            await asyncio.sleep(0.05)
        async with db.read() as conn:
            people = await conn.scalar(sa.select(sa.func.count()).select_from(members))
    finally:
        await db.dispose()
    return sum(counts.values()), counts.get(InboxStatus.PROCESSED.value, 0), people or 0


async def _web_then_worker(db_url: str, warm_up: list[tuple[str, str]], bodies: list[tuple[str, str]]) -> _Served:
    """As the deployment README describes: a web front acknowledges, a worker process applies the events.

    The worker starts once the burst is acknowledged (in that deployment it runs on another machine), so each
    figure is one process's alone; processing is timed from the worker's start.
    """
    env, port = _storefront_env(db_url), free_port()
    async with process(_storefront(port, "web"), port, env):
        ack_seconds, latencies, failures = await _acknowledge(
            f"http://127.0.0.1:{port}/stripe/webhook", warm_up, bodies
        )
        started = time.perf_counter()
        # It applies what is stored before it says it is running.
        async with process(_storefront(None, "worker"), None, env, ready_within=900):
            stored, processed, people = await _processed(db_url)
        processed_seconds = time.perf_counter() - started
    return _Served(ack_seconds, latencies, failures, processed_seconds, stored, processed, people)


async def _one_process(db_url: str, warm_up: list[tuple[str, str]], bodies: list[tuple[str, str]]) -> _Served:
    """`storefront run` alone (role all, the deployment on SQLite): it processes while it acknowledges."""
    env, port = _storefront_env(db_url), free_port()
    async with process(_storefront(port, "all"), port, env):
        started = time.perf_counter()
        ack_seconds, latencies, failures = await _acknowledge(
            f"http://127.0.0.1:{port}/stripe/webhook", warm_up, bodies
        )
        stored, processed, people = await _processed(db_url)
        processed_seconds = time.perf_counter() - started
    return _Served(ack_seconds, latencies, failures, processed_seconds, stored, processed, people)


async def run(count: int = 10_000, database_url: str | None = None) -> list[Figure]:
    # Both servers get the same warm-up before they are timed: events of their own, so the timed ones are new.
    every_body = signed_bodies(WARM_UP + count)
    warm_up, bodies = every_body[:WARM_UP], every_body[WARM_UP:]
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        async with process(["-m", "bench.bare_server", str(port)], port):
            await blast(f"http://127.0.0.1:{port}/stripe/webhook", warm_up)
            base_seconds, base_latencies, _ = await blast(f"http://127.0.0.1:{port}/stripe/webhook", bodies)
        split = await _web_then_worker(database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'split.db'}", warm_up, bodies)
        # On PostgreSQL the roles are split across machines; one process is SQLite's deployment.
        alone = (
            None if database_url else await _one_process(f"sqlite+aiosqlite:///{Path(tmp) / 'all.db'}", warm_up, bodies)
        )

    base_rate, ack_rate, events = count / base_seconds, count / split.ack_seconds, WARM_UP + count
    base_p50, base_p99 = percentile(base_latencies, 50) * 1000, percentile(base_latencies, 99) * 1000
    figures = [
        Figure("acknowledged events/s", ack_rate, "ev/s", base_rate, ">= 0.5 x baseline", ack_rate >= base_rate / 2),
        Figure("ack p50 latency", percentile(split.latencies, 50) * 1000, "ms", base_p50),
        Figure("ack p99 latency", percentile(split.latencies, 99) * 1000, "ms", base_p99),
        Figure("processed events/s, worker after", events / split.processed_seconds, "ev/s", None, "(each once)"),
    ]
    notes = [
        f"baseline: bare aiohttp handler that reads the body and answers 200 ({base_rate:,.0f} req/s)",
        f"web front then worker: non-200 answers {split.failures}; stored {split.stored:,}, processed "
        f"{split.processed:,}, with the {WARM_UP} warm-up events (exactly once: "
        f"{'yes' if split.exactly_once(events) else 'NO'}); members created {split.people:,}",
    ]
    if alone is not None:
        figures += [
            Figure("one process: acknowledged events/s", count / alone.ack_seconds, "ev/s", base_rate, "(no target)"),
            Figure("one process: ack p99 latency", percentile(alone.latencies, 99) * 1000, "ms", base_p99),
            Figure("one process: processed events/s", events / alone.processed_seconds, "ev/s", None, "(each once)"),
        ]
        notes.append(
            f"one process (role all), processing while it acknowledges: non-200 answers {alone.failures}; "
            f"exactly once: {'yes' if alone.exactly_once(events) else 'NO'}"
        )
    print_case(
        f"Webhook ingest: {count:,} signed events, {CLIENTS} clients ({'PostgreSQL' if database_url else 'SQLite'})",
        figures,
        notes,
    )
    return figures


if __name__ == "__main__":
    asyncio.run(run())
