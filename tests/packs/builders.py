"""Builders for the pack tests (and the request tests, which sell and deliver files the same way): members
through signed webhooks, packs from bytes, one-off Checkouts reported paid, downloads and license verdicts
through the real gateway, and readers of what a member or an admin would see."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import sqlalchemy as sa

from entitlements.asset_tables import download_quota_usage, license_entitlements
from entitlements.packs import PackFile, PackSummary, month_of
from storefront.app import App, Running
from storefront.clock import ManualClock
from storefront.db.tables import outbox
from storefront.demo.stripe_events import StripeEvents
from storefront.demo.world import DemoWorld
from storefront.members import find_member
from storefront.standins.stripe_api import StripeStandIn
from tests.helpers import WEBHOOK_SECRET, WebhookSender

PRICES = {
    "chat": ("price_test_chat_month", 300),
    "fan": ("price_demo_fan_month", 500),
    "creator": ("price_demo_creator_month", 2500),
    "brand": ("price_demo_brand_month", 25000),
}
PERIOD_END = 1_792_000_000


def customer_of(identity: str) -> str:
    return "cus_" + identity.replace(":", "_")


async def a_member(
    app: App,
    sender: WebhookSender,
    events: StripeEvents,
    identity: str,
    *,
    tier: str = "fan",
    paid_invoices: int = 0,
) -> int:
    """A member whose subscription Stripe reports active (signed webhooks through the real endpoint)."""
    customer = customer_of(identity)
    price_id, amount = PRICES[tier]
    sub = events.subscription(
        sub_id=f"sub_{customer}",
        customer=customer,
        member=identity,
        price_id=price_id,
        unit_amount=amount,
        current_period_end=PERIOD_END,
    )
    assert (await sender.send(events.event("customer.subscription.created", sub))).status == 200
    for _ in range(paid_invoices):
        invoice = events.invoice(
            sub_id=f"sub_{customer}",
            customer=customer,
            member=identity,
            amount=amount,
            paid=True,
            billing_reason="subscription_cycle",
        )
        assert (await sender.send(events.event("invoice.paid", invoice))).status == 200
    await app.worker.drain()
    async with app.db.read() as conn:
        member_id = await find_member(conn, identity)
    assert member_id is not None
    return member_id


async def end_membership(
    app: App, sender: WebhookSender, events: StripeEvents, identity: str, *, tier: str = "fan"
) -> None:
    customer = customer_of(identity)
    price_id, amount = PRICES[tier]
    sub = events.subscription(
        sub_id=f"sub_{customer}",
        customer=customer,
        member=identity,
        price_id=price_id,
        unit_amount=amount,
        status="canceled",
        ended_at=PERIOD_END,
    )
    assert (await sender.send(events.event("customer.subscription.deleted", sub))).status == 200
    await app.worker.drain()


async def a_pack(app: App, month: str | None = None, *, files: int = 3, **options: Any) -> PackSummary:
    """A pack of `files` files of random bytes (so every test's files are distinct)."""
    month = month or month_of(app.clock.now())
    made = [
        PackFile(name=f"photo-{number}.jpg", source=secrets.token_bytes(2048 + number), title=f"Photo {number}")
        for number in range(1, files + 1)
    ]
    return await app.packs.add_pack(month, made, **options)


async def report_paid(
    app: App, sender: WebhookSender, events: StripeEvents, session: dict[str, Any], intent: str
) -> None:
    """Stripe reports a one-off Checkout Session paid with `intent` (a signed checkout.session.completed)."""
    paid = events.checkout_session(
        mode="payment",
        client_reference_id=session["client_reference_id"],
        customer=None,
        payment_intent=intent,
        amount_total=session["amount_total"],
        metadata=session["metadata"],
    )
    paid["id"] = session["id"]
    reply = await sender.send(events.event("checkout.session.completed", paid))
    assert reply.status == 200, reply
    await app.worker.drain()


async def download(http: aiohttp.ClientSession, server: Running, url: str) -> tuple[int, str | None, str]:
    """Follow a download button as a browser would, up to the gateway's answer: (status, license id, redirect)."""
    async with http.get(on_server(server, url), allow_redirects=False) as response:
        return response.status, response.headers.get("X-License-Id"), response.headers.get("Location", "")


async def verdict(http: aiohttp.ClientSession, server: Running, license_id: str) -> str:
    async with http.get(f"{server.url}/license/{license_id}") as response:
        return (await response.json())["verdict"]


async def demo_story(
    chapters: Sequence[Callable[[DemoWorld], Awaitable[None]]],
    app: App,
    server: Running,
    stripe_api: StripeStandIn,
    events: StripeEvents,
) -> str:
    """What the demo says when these chapters run against the test's app (on its ManualClock) and server."""
    lines: list[str] = []
    assert server.url is not None and isinstance(app.clock, ManualClock)
    async with aiohttp.ClientSession() as http:
        world = DemoWorld(app, server.url, app.clock, stripe_api, events, http, lines.append, WEBHOOK_SECRET)
        for chapter in chapters:
            await chapter(world)
    return "\n".join(lines)


def on_server(server: Running, url: str) -> str:
    """Links carry the public address; the test server listens on a random port."""
    assert server.url is not None
    return server.url + urlsplit(url).path


async def pack_message(app: App, identity: str) -> dict[str, Any]:
    messages = await pack_messages(app, identity)
    assert len(messages) == 1, messages
    return messages[0]


async def pack_messages(app: App, identity: str) -> list[dict[str, Any]]:
    async with app.db.read() as conn:
        member_id = await find_member(conn, identity)
        rows = await conn.scalars(
            sa.select(outbox.c.payload)
            .where(outbox.c.member_id == member_id, outbox.c.key.like("notify:pack:%"))
            .order_by(outbox.c.id)
        )
        return list(rows)


async def recorded(app: App) -> dict[str, int]:
    """What a download leaves behind: license entitlements and quota counted."""
    async with app.db.read() as conn:
        entitlements = await conn.scalar(sa.select(sa.func.count()).select_from(license_entitlements))
        used = await conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(download_quota_usage.c.used), 0)))
    return {"entitlements": entitlements or 0, "quota_used": used or 0}
