"""Payments from strangers, refunds, disputes and grace periods, through the real webhook endpoint."""

from __future__ import annotations

from datetime import timedelta

from storefront.app import App
from storefront.clock import ManualClock
from storefront.demo.stripe_events import StripeEvents
from storefront.standins.stripe_api import StripeStandIn
from storefront.stripe_gateway import StripeGateway
from tests.helpers import WebhookSender, member_state, outbox_rows
from tests.lifecycle import FAN_PRICE, PERIOD_END, full_lifecycle


def active_subscription(events: StripeEvents, customer: str, member: str | None) -> dict:
    sub = events.subscription(
        sub_id=f"sub_{customer}",
        customer=customer,
        member=member,
        price_id=FAN_PRICE,
        unit_amount=500,
        current_period_end=PERIOD_END,
    )
    return events.event("customer.subscription.created", sub)


async def test_payment_from_someone_unknown_creates_the_member(app: App, webhook: WebhookSender, events):
    await webhook.send(active_subscription(events, "cus_stranger", member="discord:777"))
    await app.worker.drain()
    state = await member_state(app, "discord:777")
    assert state["granted_tier"] == "fan"
    assert (await member_state(app, "stripe:cus_stranger"))["member_id"] == state["member_id"]


async def test_payment_with_no_identity_at_all_is_kept_under_the_stripe_customer(app: App, webhook, events):
    await webhook.send(active_subscription(events, "cus_anonymous", member=None))
    await app.worker.drain()
    assert (await member_state(app, "stripe:cus_anonymous"))["granted_tier"] == "fan"


async def test_invoice_before_any_subscription_event_still_lands(app: App, webhook: WebhookSender, events):
    invoice = events.invoice(
        sub_id="sub_early",
        customer="cus_early",
        member="telegram:5",
        amount=500,
        paid=True,
        billing_reason="subscription_create",
    )
    await webhook.send(events.event("invoice.paid", invoice))
    await app.worker.drain()
    state = await member_state(app, "telegram:5")
    assert (state["granted_tier"], state["subscriptions"][0]["status"]) == (None, "incomplete")


async def test_full_refund_of_a_membership_charge_ends_access(app: App, webhook: WebhookSender, events):
    await webhook.send(active_subscription(events, "cus_r", member="telegram:9"))
    charge = events.charge(customer="cus_r", amount=500, refunded_amount=500)
    await webhook.send(events.event("charge.refunded", charge))
    await app.worker.drain()
    state = await member_state(app, "telegram:9")
    assert state["granted_tier"] is None
    assert (state["subscriptions"][0]["status"], state["subscriptions"][0]["end_reason"]) == ("ended", "refunded")


async def test_partial_refund_keeps_the_membership(app: App, webhook: WebhookSender, events):
    await webhook.send(active_subscription(events, "cus_p", member="telegram:10"))
    await webhook.send(
        events.event("charge.refunded", events.charge(customer="cus_p", amount=500, refunded_amount=200))
    )
    await app.worker.drain()
    assert (await member_state(app, "telegram:10"))["granted_tier"] == "fan"


async def test_dispute_of_a_membership_charge_ends_access(settings, clock: ManualClock, events):
    async with StripeStandIn(clock=clock) as stripe_api:
        charge = events.charge(customer="cus_d", amount=500)
        stripe_api.put_charge(charge)
        app = App(settings, clock=clock, stripe=StripeGateway("sk_test_x", api_base=stripe_api.base_url))
        await app.migrate()
        try:
            async with app.db.write() as conn:
                for event in (
                    active_subscription(events, "cus_d", "telegram:11"),
                    events.event("charge.dispute.created", events.dispute(charge_id=charge["id"], amount=500)),
                ):
                    await app.dispatcher.handler_for(event["type"])(conn, _parsed(event), clock.now())
            state = await member_state(app, "telegram:11")
            assert (state["granted_tier"], state["subscriptions"][0]["end_reason"]) == (None, "disputed")
        finally:
            await app.close()


def _parsed(event: dict):
    from webhooks.stripe_payloads import StripeEvent

    return StripeEvent.model_validate(event)


async def test_grace_period_runs_out_and_access_ends(app: App, webhook: WebhookSender, events, clock: ManualClock):
    steps = full_lifecycle(events)
    for step in steps[:5]:  # ... active, then a renewal payment fails
        await webhook.send(step.event)
    await app.worker.drain()
    sub = (await member_state(app, "telegram:1001"))["subscriptions"][0]
    assert sub["status"] == "past_due"
    failed_at = steps[4].event["created"]
    assert sub["grace_until"].timestamp() == failed_at + 3 * 86400

    clock.set(sub["grace_until"] - timedelta(seconds=1))
    assert await app.expire_due_access() == []
    clock.set(sub["grace_until"])
    [change] = await app.expire_due_access()
    assert (change.from_tier, change.to_tier) == ("fan", None)
    assert await app.expire_due_access() == [], "the sweep is idempotent"
    state = await member_state(app, "telegram:1001")
    assert (state["granted_tier"], state["subscriptions"][0]["end_reason"]) == (None, "payment_failed")

    await webhook.send(steps[6].event)  # the retry finally succeeds: access comes back
    await app.worker.drain()
    assert (await member_state(app, "telegram:1001"))["granted_tier"] == "fan"
    assert [row["payload"]["to_tier"] for row in await outbox_rows(app, "access")] == ["fan", None, "fan"]
