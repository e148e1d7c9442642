"""The membership chapters of the demo: pay, fail, recover, upgrade, cancel, end; reconcile a missed webhook."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa

from storefront.db.tables import outbox
from storefront.demo.world import DemoWorld
from webhooks.reconcile import reconcile

__all__ = ["membership_chapters"]

FAN = ("price_demo_fan_month", 500)
CREATOR = ("price_demo_creator_month", 2500)
PERIOD_END = 1_792_000_000


def _subscription(world: DemoWorld, member: str | None, customer: str, price: tuple[str, int], **changes: Any):
    return world.events.subscription(
        sub_id=f"sub_{customer}",
        customer=customer,
        member=member,
        price_id=price[0],
        unit_amount=price[1],
        current_period_end=PERIOD_END,
        **changes,
    )


async def _step(world: DemoWorld, label: str, event_type: str, obj: dict[str, Any], identity: str) -> None:
    event = world.events.event(event_type, obj)
    status = await world.deliver(event)
    world.say(f"  -> {label}: {event_type} answered {status}")
    await world.show_member(identity)


async def subscriber_lifecycle(world: DemoWorld) -> None:
    say, member, customer = world.say, "telegram:1001", "cus_demo_ada"
    say("1. Ada (Telegram user 1001) subscribes to Fan through Stripe Checkout")
    checkout = world.events.checkout_session(
        mode="subscription",
        client_reference_id=member,
        customer=customer,
        subscription=f"sub_{customer}",
        amount_total=500,
    )
    await _step(world, "checkout completed", "checkout.session.completed", checkout, member)
    await _step(
        world,
        "subscription created",
        "customer.subscription.created",
        _subscription(world, member, customer, FAN, status="incomplete"),
        member,
    )
    invoice = world.events.invoice(
        sub_id=f"sub_{customer}",
        customer=customer,
        member=member,
        amount=500,
        paid=True,
        billing_reason="subscription_create",
    )
    await _step(world, "first invoice paid", "invoice.paid", invoice, member)
    activated = world.events.event("customer.subscription.updated", _subscription(world, member, customer, FAN))
    await world.deliver(activated)
    say("  -> subscription active: customer.subscription.updated")
    await world.show_member(member)
    again = await world.deliver(activated)
    say(f"  -> the same event delivered again answers {again} and changes nothing")

    say("2. Her card is declined at renewal: she keeps access through the grace period")
    failed = world.events.invoice(
        sub_id=f"sub_{customer}",
        customer=customer,
        member=member,
        amount=500,
        paid=False,
        billing_reason="subscription_cycle",
    )
    await _step(world, "renewal failed", "invoice.payment_failed", failed, member)
    paid = world.events.invoice(
        sub_id=f"sub_{customer}",
        customer=customer,
        member=member,
        amount=500,
        paid=True,
        billing_reason="subscription_cycle",
    )
    await _step(world, "card updated, paid", "invoice.paid", paid, member)

    say("3. She upgrades to Creator in the billing portal, then cancels at period end")
    await _step(
        world, "price changed", "customer.subscription.updated", _subscription(world, member, customer, CREATOR), member
    )
    cancellation = {"reason": "cancellation_requested", "feedback": "too_expensive", "comment": "saving up"}
    await _step(
        world,
        "cancel at period end",
        "customer.subscription.updated",
        _subscription(
            world, member, customer, CREATOR, cancel_at_period_end=True, cancel_at=PERIOD_END, cancellation=cancellation
        ),
        member,
    )
    await _step(
        world,
        "period over",
        "customer.subscription.deleted",
        _subscription(
            world, member, customer, CREATOR, status="canceled", ended_at=PERIOD_END, cancellation=cancellation
        ),
        member,
    )


async def paid_before_talking_to_the_bot(world: DemoWorld) -> None:
    world.say("4. Bo pays from a shared Checkout link before ever talking to the bot: nothing is dropped")
    customer = "cus_demo_bo"
    await _step(
        world,
        "subscription created",
        "customer.subscription.created",
        _subscription(world, None, customer, FAN),
        f"stripe:{customer}",
    )


async def reconcile_missed_webhook(world: DemoWorld) -> None:
    world.say("5. Cy's webhooks never arrived; `storefront reconcile` reads Stripe and repairs it")
    customer = "cus_demo_cy"
    world.stripe_api.put_subscription(_subscription(world, "discord:2002", customer, CREATOR))
    assert world.app.stripe is not None
    report = await reconcile(
        db=world.app.db, clock=world.clock, stripe=world.app.stripe, memberships=world.app.memberships
    )
    world.say(f"  -> reconciled {report.subscriptions_seen} subscription(s), {len(report.changes)} access change(s)")
    await world.show_member("discord:2002")


async def queued_effects(world: DemoWorld) -> None:
    async with world.app.db.read() as conn:
        rows = (await conn.execute(sa.select(outbox.c.kind, outbox.c.payload).order_by(outbox.c.id))).all()
    world.say(f"6. Effects queued in the outbox for the bots to deliver ({len(rows)}):")
    for kind, payload in rows:
        if kind == "access":
            world.say(f"      access {payload['from_tier'] or '-'} -> {payload['to_tier'] or '-'}")
        else:
            world.say(f"      message: {payload['template']}")


def membership_chapters() -> list[Callable[[DemoWorld], Awaitable[None]]]:
    return [subscriber_lifecycle, paid_before_talking_to_the_bot, reconcile_missed_webhook, queued_effects]
