"""Checkout links: made after the hold is decided, paced under Stripe's rate limit, and never ahead of the hold."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from drops import AlreadyPaid, DropOptions, DropService, HoldExpired, HoldNotFound
from storefront.app import App
from storefront.clock import ManualClock
from storefront.errors import StripeUnavailable
from storefront.standins.stripe_api import StripeStandIn
from storefront.stripe_gateway import StripeGateway
from tests.drops.builders import a_drop, checkout_completed, open_now
from tests.helpers import WebhookSender


async def test_the_link_is_a_payment_checkout_for_exactly_this_hold(
    drops_service: DropService, clock: ManualClock, stripe_api: StripeStandIn
):
    drop = await a_drop(drops_service, supply=3)
    open_now(clock, drop)
    hold = await drops_service.claim(drop.id, "telegram:1")

    link = await drops_service.checkout_link(hold.id, "telegram:1")

    [session] = stripe_api.created_checkout_sessions()
    assert link.url == session["url"] and link.session_id == session["id"]
    assert session["mode"] == "payment"
    assert session["client_reference_id"] == "telegram:1"
    assert session["metadata"] == {"kind": "drop", "drop_id": str(drop.id), "hold_id": hold.id, "member": "telegram:1"}
    assert session["amount_total"] == 1500 and session["currency"] == "usd"


async def test_a_ten_minute_hold_gets_a_session_stripe_accepts_and_the_hold_stays_the_authority(
    drops_service: DropService, clock: ManualClock, stripe_api: StripeStandIn
):
    drop = await a_drop(drops_service, supply=3)
    open_now(clock, drop)
    hold = await drops_service.claim(drop.id, "telegram:1")

    link = await drops_service.checkout_link(hold.id)

    [session] = stripe_api.created_checkout_sessions()
    # Stripe refuses expires_at under 30 minutes: the session outlives the 10-minute hold by design.
    assert session["expires_at"] == int((clock.now() + timedelta(minutes=31)).timestamp())
    assert link.hold_expires_at == hold.expires_at == clock.now() + timedelta(minutes=10)
    clock.advance(timedelta(minutes=10))
    with pytest.raises(HoldExpired):
        await drops_service.checkout_link(hold.id)


async def test_a_hold_longer_than_stripes_floor_gets_a_session_ending_with_it(
    app: App, clock: ManualClock, stripe_gateway: StripeGateway, stripe_api: StripeStandIn
):
    service = DropService(app.db, clock, app.catalog, stripe=stripe_gateway, options=DropOptions(hold_minutes=45))
    drop = await a_drop(service)
    open_now(clock, drop)
    hold = await service.claim(drop.id, "telegram:1")

    await service.checkout_link(hold.id)

    [session] = stripe_api.created_checkout_sessions()
    assert session["expires_at"] == int(hold.expires_at.timestamp())


async def test_asking_twice_gives_the_same_link(drops_service: DropService, clock, stripe_api: StripeStandIn):
    drop = await a_drop(drops_service)
    open_now(clock, drop)
    hold = await drops_service.claim(drop.id, "telegram:1")

    first, second = await asyncio.gather(drops_service.checkout_link(hold.id), drops_service.checkout_link(hold.id))
    third = await drops_service.checkout_link(hold.id)

    assert first == second == third
    assert len(stripe_api.created_checkout_sessions()) == 1


async def test_nobody_else_gets_your_link(drops_service: DropService, clock):
    drop = await a_drop(drops_service)
    open_now(clock, drop)
    hold = await drops_service.claim(drop.id, "telegram:1")

    with pytest.raises(HoldNotFound):
        await drops_service.checkout_link(hold.id, "telegram:2")


async def test_a_burst_of_links_is_paced_under_stripes_rate_limit(
    drops_service: DropService, clock, stripe_api: StripeStandIn
):
    drop = await a_drop(drops_service, supply=24)
    open_now(clock, drop)
    holds = await asyncio.gather(*(drops_service.claim(drop.id, f"telegram:{n}") for n in range(24)))

    links = await asyncio.gather(*(drops_service.checkout_link(hold.id) for hold in holds))

    assert len({link.url for link in links}) == 24
    assert [r.status for r in stripe_api.requests if r.status == 429] == []
    assert len(stripe_api.created_checkout_sessions()) == 24


async def test_claims_are_decided_while_stripe_is_down(app: App, clock: ManualClock, stripe_api: StripeStandIn):
    async def no_wait(_seconds: float) -> None:
        return None

    gateway = StripeGateway("sk_test_drops", api_base=stripe_api.base_url, sleep=no_wait, max_attempts=2)
    service = DropService(app.db, clock, app.catalog, stripe=gateway)
    drop = await a_drop(service, supply=2)
    open_now(clock, drop)
    stripe_api.fail_next(2, status=503)  # both attempts of the next call fail

    hold = await service.claim(drop.id, "telegram:1")
    with pytest.raises(StripeUnavailable):
        await service.checkout_link(hold.id)

    assert (await service.get(drop.id)).held == 1
    link = await service.checkout_link(hold.id)  # the hold still stands; the link follows when Stripe answers
    assert link.hold_expires_at == hold.expires_at


async def test_no_link_for_a_unit_already_paid(
    app: App, drops_service: DropService, clock, webhook: WebhookSender, events
):
    drop = await a_drop(drops_service)
    open_now(clock, drop)
    hold = await drops_service.claim(drop.id, "telegram:1")
    link = await drops_service.checkout_link(hold.id)
    await webhook.send(checkout_completed(events, hold, link.session_id))
    await app.worker.drain()

    with pytest.raises(AlreadyPaid):
        await drops_service.checkout_link(hold.id)


async def test_without_stripe_configured_the_link_is_refused_in_one_line(app: App, clock: ManualClock):
    service = DropService(app.db, clock, app.catalog, stripe=None)
    drop = await a_drop(service)
    open_now(clock, drop)
    hold = await service.claim(drop.id, "telegram:1")

    with pytest.raises(StripeUnavailable, match="STRIPE_API_KEY"):
        await service.checkout_link(hold.id)
