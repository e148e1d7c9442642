"""Builders for the request tests: members made through the real path (a signed subscription webhook)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from entitlements.requests import RequestService
from storefront.app import App
from storefront.db.tables import outbox
from storefront.demo.stripe_events import StripeEvents
from storefront.members import find_member
from tests.helpers import WebhookSender

BRAND_PRICE, FAN_PRICE = "price_demo_brand_month", "price_demo_fan_month"
PERIOD_END = 1_792_000_000


async def a_member(
    app: App, webhook: WebhookSender, events: StripeEvents, identity: str, *, tier: str = "brand"
) -> int:
    """A member with an active subscription to `tier`, as Stripe would report it."""
    price, amount = (BRAND_PRICE, 25000) if tier == "brand" else (FAN_PRICE, 500)
    customer = "cus_" + identity.replace(":", "_")
    sub = events.subscription(
        sub_id=f"sub_{customer}",
        customer=customer,
        member=identity,
        price_id=price,
        unit_amount=amount,
        current_period_end=PERIOD_END,
    )
    reply = await webhook.send(events.event("customer.subscription.created", sub))
    assert reply.status == 200, reply
    await app.worker.drain()
    async with app.db.read() as conn:
        member_id = await find_member(conn, identity)
    assert member_id is not None
    return member_id


async def request_notices(app: App) -> list[dict[str, Any]]:
    """The NOTIFY rows about requests, oldest first: (key, template, member_id)."""
    async with app.db.read() as conn:
        rows = await conn.execute(
            sa.select(outbox.c.key, outbox.c.payload, outbox.c.member_id, outbox.c.kind)
            .where(outbox.c.key.like("request:%"))
            .order_by(outbox.c.id)
        )
        return [{"key": r.key, "payload": r.payload, "member_id": r.member_id, "kind": r.kind} for r in rows]


@pytest.fixture
def requests(app: App) -> RequestService:
    return RequestService(app.db, app.clock, app.catalog)
