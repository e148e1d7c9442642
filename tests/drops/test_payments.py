"""Stripe's word on drop purchases, through the real webhook endpoint: sales, expiries, late payments, refunds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from drops import DropOptions, DropPhase, DropService, HoldStatus, WaitlistStatus
from storefront.app import App
from storefront.clock import ManualClock
from storefront.demo.stripe_events import StripeEvents
from storefront.standins.stripe_api import StripeStandIn
from tests.drops.builders import (
    a_drop,
    a_hold_with_link,
    checkout_completed,
    checkout_expired,
    hold_rows,
    open_now,
    sale_rows,
)
from tests.helpers import WebhookSender, outbox_rows


async def notes(app: App, template: str) -> list[dict]:
    return [row for row in await outbox_rows(app, "notify") if row["payload"]["template"] == template]


async def deliver(app: App, webhook: WebhookSender, event: dict) -> None:
    reply = await webhook.send(event)
    assert reply.status == 200, reply.body
    await app.worker.drain()


async def a_late_payment_with_no_unit_left(
    app: App, service: DropService, clock: ManualClock, webhook: WebhookSender, events: StripeEvents
):
    """telegram:1 pays (as pi_late) after their hold ended and the only unit went to telegram:2."""
    drop, late, link = await a_hold_with_link(service, clock, supply=1)
    clock.advance(timedelta(minutes=10))
    await service.claim(drop.id, "telegram:2")  # no sweeper ran: the unit went to someone else anyway
    await deliver(app, webhook, checkout_completed(events, late, link.session_id, payment_intent="pi_late"))
    return drop, late


async def test_paying_turns_the_hold_into_a_sale_and_dms_the_item(
    app: App, drops_service: DropService, clock: ManualClock, webhook: WebhookSender, events: StripeEvents
):
    drop, hold, link = await a_hold_with_link(drops_service, clock, supply=3, asset="https://files.example/print.zip")

    await deliver(app, webhook, checkout_completed(events, hold, link.session_id, payment_intent="pi_1"))

    [sale] = await sale_rows(app, drop.id)
    assert (sale["hold_id"], sale["identity"], sale["amount_minor"], sale["late"]) == (
        hold.id,
        "telegram:1",
        1500,
        False,
    )
    assert (await hold_rows(app, drop.id))[0]["status"] == HoldStatus.SOLD
    [dm] = await notes(app, "drop_purchased")
    assert dm["key"] == f"drop:sale:{hold.id}"
    assert dm["payload"]["text"] == (
        "You bought “Midnight print” for 15.00 USD. Thank you! Your item: https://files.example/print.zip"
    )
    shown = await drops_service.get(drop.id)
    assert (shown.sold, shown.held, shown.available) == (1, 0, 2)


async def test_the_same_payment_reported_twice_sells_one_unit(
    app: App, drops_service: DropService, clock: ManualClock, webhook: WebhookSender, events: StripeEvents
):
    drop, hold, link = await a_hold_with_link(drops_service, clock, supply=3)
    event = checkout_completed(events, hold, link.session_id)

    await deliver(app, webhook, event)
    await deliver(app, webhook, event)  # the same event again
    again = checkout_completed(events, hold, link.session_id)  # a new event id for the same session
    await deliver(app, webhook, again)

    assert len(await sale_rows(app, drop.id)) == 1
    assert len(await notes(app, "drop_purchased")) == 1
    assert await drops_service.payment_issues() == []


async def test_the_last_sale_closes_the_drop_and_tells_the_waitlist(
    app: App, drops_service: DropService, clock: ManualClock, webhook: WebhookSender, events: StripeEvents
):
    drop, hold, link = await a_hold_with_link(drops_service, clock, supply=1)
    await drops_service.join_waitlist(drop.id, "telegram:2")

    await deliver(app, webhook, checkout_completed(events, hold, link.session_id))

    shown = await drops_service.get(drop.id)
    assert (shown.phase, shown.close_reason) == (DropPhase.CLOSED, "sold_out")
    [told] = await notes(app, "drop_waitlist_closed")
    assert told["payload"]["text"] == "“Midnight print” has ended; no unit came back for you this time."
    result = await drops_service.result(drop.id)
    assert (result.sold, result.supply, result.buyers, str(result.revenue)) == (1, 1, 1, "15.00 USD")


async def test_an_expired_hold_goes_to_the_first_in_line_with_a_link(
    app: App, drops_service: DropService, clock: ManualClock, stripe_api: StripeStandIn
):
    drop = await a_drop(drops_service, supply=1)
    open_now(clock, drop)
    await drops_service.claim(drop.id, "telegram:1")
    for person in ("telegram:2", "telegram:3"):
        await drops_service.join_waitlist(drop.id, person)

    clock.advance(timedelta(minutes=10))
    report = await drops_service.run_due()

    assert (report.holds_released, report.offers_sent) == (1, 1)
    [offer] = await drops_service.holds_of("telegram:2")
    assert (offer.source, offer.expires_at) == ("waitlist", clock.now() + timedelta(minutes=10))
    [dm] = await notes(app, "drop_offer")
    assert dm["key"] == f"drop:offer:{offer.id}"
    assert dm["payload"]["buttons"] == [{"label": "Pay now", "url": stripe_api.created_checkout_sessions()[0]["url"]}]
    assert [s.identity for s in await drops_service.waitlist(drop.id)] == ["telegram:2", "telegram:3"]

    clock.advance(timedelta(minutes=10))  # the offer runs out unpaid: the next person gets it
    await drops_service.run_due()

    assert await drops_service.holds_of("telegram:2") == []
    assert len(await drops_service.holds_of("telegram:3")) == 1
    assert [s.status for s in await drops_service.waitlist(drop.id)] == [WaitlistStatus.OFFERED]


async def test_checkout_expiry_releases_the_unit(
    app: App, drops_service: DropService, clock: ManualClock, webhook: WebhookSender, events: StripeEvents
):
    drop, hold, link = await a_hold_with_link(drops_service, clock, supply=1)
    await drops_service.join_waitlist(drop.id, "telegram:2")

    await deliver(app, webhook, checkout_expired(events, hold, link.session_id))

    [row] = [h for h in await hold_rows(app, drop.id) if h["id"] == hold.id]
    assert (row["status"], row["end_reason"]) == ("released", "checkout_expired")
    assert len(await drops_service.holds_of("telegram:2")) == 1
    assert (await drops_service.get(drop.id)).held == 1


async def test_a_late_payment_is_honoured_from_spare_supply(
    app: App, drops_service: DropService, clock: ManualClock, webhook: WebhookSender, events: StripeEvents
):
    drop, hold, link = await a_hold_with_link(drops_service, clock, supply=2)
    clock.advance(timedelta(minutes=12))  # the hold ended; the page at Stripe was still open

    await deliver(app, webhook, checkout_completed(events, hold, link.session_id))

    [sale] = await sale_rows(app, drop.id)
    assert (sale["hold_id"], sale["late"]) == (hold.id, True)
    assert await drops_service.payment_issues() == []
    assert (await drops_service.get(drop.id)).available == 1


async def test_a_late_payment_with_no_unit_left_is_flagged_for_refund_not_oversold(
    app: App, drops_service: DropService, clock: ManualClock, webhook: WebhookSender, events: StripeEvents
):
    drop, late = await a_late_payment_with_no_unit_left(app, drops_service, clock, webhook, events)

    assert await sale_rows(app, drop.id) == []
    [issue] = await drops_service.payment_issues()
    assert (issue.kind, issue.identity, issue.payment_intent, issue.amount_minor) == (
        "refund_needed",
        "telegram:1",
        "pi_late",
        1500,
    )
    assert issue.reason == "paid after the hold ended and no unit was left"
    [dm] = await notes(app, "drop_refund_needed")
    assert dm["member_id"] == late.member_id
    shown = await drops_service.get(drop.id)
    assert shown.sold + shown.held == 1


async def test_an_admin_refund_of_a_flagged_payment_settles_the_issue(
    app: App, drops_service: DropService, clock: ManualClock, webhook: WebhookSender, events: StripeEvents
):
    await a_late_payment_with_no_unit_left(app, drops_service, clock, webhook, events)

    charge = events.charge(customer=None, amount=1500, refunded_amount=1500, payment_intent="pi_late")
    await deliver(app, webhook, events.event("charge.refunded", charge))

    assert await drops_service.payment_issues() == []
    assert len(await drops_service.payment_issues(unresolved_only=False)) == 1


@pytest.mark.parametrize("restock", [True, False])
async def test_a_refund_follows_the_restock_policy(
    app: App, clock: ManualClock, stripe_gateway, webhook: WebhookSender, events: StripeEvents, restock: bool
):
    service = DropService(
        app.db, clock, app.catalog, stripe=stripe_gateway, options=DropOptions(restock_on_refund=restock)
    )
    app.purchases.register("drop", service.purchases)
    drop, hold, link = await a_hold_with_link(service, clock, supply=2)
    await deliver(app, webhook, checkout_completed(events, hold, link.session_id, payment_intent="pi_r"))

    charge = events.charge(customer=None, amount=1500, refunded_amount=1500, payment_intent="pi_r")
    await deliver(app, webhook, events.event("charge.refunded", charge))

    [sale] = await service.sales(drop.id)
    assert (sale.status, sale.takes_unit) == ("refunded", not restock)
    assert (await service.get(drop.id)).available == (2 if restock else 1)
    assert len(await notes(app, "drop_refunded")) == 1


async def test_a_dispute_is_recorded_and_listed_for_admins(
    app: App, drops_service: DropService, clock: ManualClock, webhook: WebhookSender, events: StripeEvents
):
    drop, hold, link = await a_hold_with_link(drops_service, clock, supply=2)
    await deliver(app, webhook, checkout_completed(events, hold, link.session_id, payment_intent="pi_d"))

    dispute = events.dispute(charge_id="ch_d", amount=1500, payment_intent="pi_d")
    await deliver(app, webhook, events.event("charge.dispute.created", dispute))

    [issue] = await drops_service.payment_issues()
    assert (issue.kind, issue.drop_id, issue.identity, issue.amount_minor) == ("dispute", drop.id, "telegram:1", 1500)
    [sale] = await drops_service.sales(drop.id)
    assert sale.status == "disputed"
    assert (await drops_service.get(drop.id)).sold == 1  # a disputed unit stays sold until Stripe decides


async def test_an_ended_holds_checkout_is_closed_at_stripe(
    drops_service: DropService, clock: ManualClock, stripe_api: StripeStandIn
):
    await a_hold_with_link(drops_service, clock, supply=1)

    clock.advance(timedelta(minutes=10))
    await drops_service.run_due()

    [session] = stripe_api.created_checkout_sessions()
    assert session["status"] == "expired"
