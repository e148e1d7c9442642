"""Early access: the chosen tiers claim first, checked against the member's current tier at the moment of the claim."""

from __future__ import annotations

from datetime import timedelta

import pytest

from drops import DropPhase, DropService, EarlyAccessOnly, NotEntitled
from storefront.app import App
from storefront.clock import ManualClock
from tests.drops.builders import a_drop, a_member_of
from tests.helpers import WebhookSender


async def test_creator_member_claims_in_the_window_and_a_non_member_cannot(
    app: App, drops_service: DropService, clock: ManualClock, webhook: WebhookSender, events
):
    await a_member_of(app, webhook, events, "telegram:10", "creator")
    drop = await a_drop(drops_service, early_access_tiers="creator")  # 30 minutes, from the catalog
    clock.set(drop.opens_at - timedelta(minutes=20))
    assert (await drops_service.get(drop.id)).phase is DropPhase.EARLY_ACCESS

    hold = await drops_service.claim(drop.id, "telegram:10")
    with pytest.raises(EarlyAccessOnly) as refused:
        await drops_service.claim(drop.id, "telegram:11")

    assert hold.identity == "telegram:10"
    assert isinstance(refused.value, NotEntitled)
    assert str(refused.value) == (
        f"“Midnight print” is in early access for Creator members; it opens to everyone "
        f"{drop.opens_at:%d %b %Y %H:%M} UTC."
    )


async def test_a_member_of_a_tier_outside_the_window_waits_like_everyone(
    app: App, drops_service: DropService, clock: ManualClock, webhook: WebhookSender, events
):
    await a_member_of(app, webhook, events, "telegram:12", "fan")
    drop = await a_drop(drops_service, early_access_tiers="creator")
    clock.set(drop.opens_at - timedelta(minutes=5))

    with pytest.raises(EarlyAccessOnly):
        await drops_service.claim(drop.id, "telegram:12")


async def test_after_the_window_anyone_can_claim(drops_service: DropService, clock: ManualClock):
    drop = await a_drop(drops_service, early_access_tiers="creator")
    clock.set(drop.opens_at)

    assert (await drops_service.claim(drop.id, "telegram:13")).identity == "telegram:13"


async def test_each_tier_gets_its_own_minutes_from_the_catalog(
    app: App, drops_service: DropService, clock: ManualClock, webhook: WebhookSender, events
):
    await a_member_of(app, webhook, events, "telegram:14", "creator")
    drop = await a_drop(drops_service, early_access_tiers="creator, brand")  # creator 30, brand 60
    assert drop.early_opens_at == drop.opens_at - timedelta(minutes=60)
    clock.set(drop.opens_at - timedelta(minutes=45))

    with pytest.raises(EarlyAccessOnly, match="Brand, Creator"):
        await drops_service.claim(drop.id, "telegram:14")  # a Creator's 30 minutes have not begun

    clock.set(drop.opens_at - timedelta(minutes=30))
    assert (await drops_service.claim(drop.id, "telegram:14")).identity == "telegram:14"


async def test_the_tier_is_read_at_the_moment_of_the_claim(
    app: App, drops_service: DropService, clock: ManualClock, webhook: WebhookSender, events
):
    await a_member_of(app, webhook, events, "telegram:15", "creator")
    drop = await a_drop(drops_service, early_access_tiers="creator")
    sub = events.subscription(
        sub_id="sub_cus_telegram_15",
        customer="cus_telegram_15",
        member="telegram:15",
        price_id="price_demo_creator_month",
        unit_amount=2500,
        status="canceled",
        ended_at=events_time(clock),
    )
    await webhook.send(events.event("customer.subscription.deleted", sub))
    await app.worker.drain()
    clock.set(drop.opens_at - timedelta(minutes=10))

    with pytest.raises(EarlyAccessOnly):
        await drops_service.claim(drop.id, "telegram:15")


def events_time(clock: ManualClock) -> int:
    return int(clock.now().timestamp())
