"""Builders for drop tests: a drop, a member of a tier, Stripe's checkout events for a hold, and row readers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from drops import CheckoutLink, DropInput, DropService, DropView, HoldView
from drops.tables import drop_holds, drop_sales
from storefront.app import App
from storefront.clock import ManualClock
from storefront.demo.stripe_events import StripeEvents
from tests.helpers import WebhookSender

TIER_PRICES = {"fan": ("price_demo_fan_month", 500), "creator": ("price_demo_creator_month", 2500)}
CREATOR = "discord:4242"


async def a_drop(
    service: DropService,
    *,
    supply: int = 3,
    opens_in: timedelta = timedelta(hours=1),
    closes_in: timedelta | None = None,
    **fields: Any,
) -> DropView:
    now = service.clock.now()
    spec = {
        "title": "Midnight print",
        "description": "A signed print",
        "price": "15.00 USD",
        "supply": supply,
        "opens_at": now + opens_in,
        "closes_at": now + closes_in if closes_in else None,
        **fields,
    }
    return await service.create(DropInput.parse(**spec), creator=CREATOR)


def open_now(clock: ManualClock, drop: DropView) -> None:
    clock.set(drop.opens_at + timedelta(seconds=1))


async def a_hold_with_link(
    service: DropService, clock: ManualClock, *, supply: int, identity: str = "telegram:1", **fields: Any
) -> tuple[DropView, HoldView, CheckoutLink]:
    """An open drop, one claim on it by `identity`, and that hold's Checkout link."""
    drop = await a_drop(service, supply=supply, **fields)
    open_now(clock, drop)
    hold = await service.claim(drop.id, identity)
    return drop, hold, await service.checkout_link(hold.id)


async def a_member_of(app: App, webhook: WebhookSender, events: StripeEvents, identity: str, tier: str) -> None:
    """A member whose subscription to `tier` is active, as Stripe tells it through the real webhook endpoint."""
    price_id, amount = TIER_PRICES[tier]
    customer = "cus_" + identity.replace(":", "_")
    sub = events.subscription(
        sub_id=f"sub_{customer}", customer=customer, member=identity, price_id=price_id, unit_amount=amount
    )
    reply = await webhook.send(events.event("customer.subscription.created", sub))
    assert reply.status == 200
    await app.worker.drain()


def checkout_completed(
    events: StripeEvents, hold: HoldView, session_id: str, *, payment_intent: str | None = None
) -> dict[str, Any]:
    session = events.checkout_session(
        mode="payment",
        client_reference_id=hold.identity,
        customer=None,
        payment_intent=payment_intent or f"pi_{hold.id}",
        amount_total=hold.price.amount_minor,
        metadata={"kind": "drop", "drop_id": str(hold.drop_id), "hold_id": hold.id, "member": hold.identity},
    )
    session["id"] = session_id
    return events.event("checkout.session.completed", session)


def checkout_expired(events: StripeEvents, hold: HoldView, session_id: str) -> dict[str, Any]:
    session = events.checkout_session(
        mode="payment",
        client_reference_id=hold.identity,
        customer=None,
        metadata={"kind": "drop", "drop_id": str(hold.drop_id), "hold_id": hold.id, "member": hold.identity},
        status="expired",
        payment_status="unpaid",
    )
    session["id"] = session_id
    return events.event("checkout.session.expired", session)


async def hold_rows(app: App, drop_id: int) -> list[dict[str, Any]]:
    async with app.db.read() as conn:
        rows = await conn.execute(
            sa.select(drop_holds).where(drop_holds.c.drop_id == drop_id).order_by(drop_holds.c.created_at)
        )
        return [row._asdict() for row in rows]


async def sale_rows(app: App, drop_id: int) -> list[dict[str, Any]]:
    async with app.db.read() as conn:
        rows = await conn.execute(
            sa.select(drop_sales).where(drop_sales.c.drop_id == drop_id).order_by(drop_sales.c.id)
        )
        return [row._asdict() for row in rows]
