"""Claiming a unit: one button press, one hold; refusals say why in one line."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from drops import (
    ClaimsUnavailable,
    DropCancelled,
    DropClosed,
    DropNotOpen,
    DropPhase,
    DropService,
    HoldStatus,
    HoldView,
    LimitReached,
    SoldOut,
)
from storefront.clock import ManualClock
from storefront.members import InvalidIdentity
from tests.drops.builders import a_drop, hold_rows, open_now


async def test_a_claim_holds_one_unit_for_ten_minutes(drops_service: DropService, clock: ManualClock, app):
    drop = await a_drop(drops_service, supply=3)
    open_now(clock, drop)

    hold = await drops_service.claim(drop.id, "telegram:1")

    assert hold.status is HoldStatus.HELD
    assert hold.expires_at == clock.now() + timedelta(minutes=10)
    assert (hold.drop_title, hold.price.amount_minor, hold.price.currency) == ("Midnight print", 1500, "usd")
    shown = await drops_service.get(drop.id)
    assert (shown.held, shown.sold, shown.available, shown.phase) == (1, 0, 2, DropPhase.OPEN)
    assert len(await hold_rows(app, drop.id)) == 1


async def test_second_claim_by_same_person_is_refused(drops_service: DropService, clock: ManualClock):
    drop = await a_drop(drops_service, supply=3)
    open_now(clock, drop)
    first = await drops_service.claim(drop.id, "telegram:1")

    with pytest.raises(LimitReached) as refused:
        await drops_service.claim(drop.id, "telegram:1")

    assert refused.value.hold_ids == [first.id]
    assert str(refused.value) == "You already have 1 unit of “Midnight print”, the most one person can get."


async def test_limit_counts_the_same_person_on_both_platforms(drops_service: DropService, clock: ManualClock, app):
    from storefront.members import attach_identity, ensure_member

    drop = await a_drop(drops_service, supply=3)
    async with app.db.write() as conn:
        member = await ensure_member(conn, "telegram:1", clock.now())
        await attach_identity(conn, member, "discord:1", clock.now())
    open_now(clock, drop)
    await drops_service.claim(drop.id, "telegram:1")

    with pytest.raises(LimitReached):
        await drops_service.claim(drop.id, "discord:1")


async def test_a_limit_of_two_allows_two_holds(drops_service: DropService, clock: ManualClock):
    drop = await a_drop(drops_service, supply=5, per_person_limit=2)
    open_now(clock, drop)
    await drops_service.claim(drop.id, "telegram:1")
    await drops_service.claim(drop.id, "telegram:1")

    with pytest.raises(LimitReached, match="2 units"):
        await drops_service.claim(drop.id, "telegram:1")


async def test_claims_past_the_supply_are_sold_out(drops_service: DropService, clock: ManualClock):
    drop = await a_drop(drops_service, supply=2)
    open_now(clock, drop)
    first = await drops_service.claim(drop.id, "telegram:1")
    await drops_service.claim(drop.id, "telegram:2")

    with pytest.raises(SoldOut) as refused:
        await drops_service.claim(drop.id, "telegram:3")

    assert refused.value.next_release_at == first.expires_at
    assert "join the waitlist" in str(refused.value)
    assert (await drops_service.get(drop.id)).phase is DropPhase.SOLD_OUT


async def test_sold_out_clicks_are_answered_without_a_write(drops_service: DropService, clock: ManualClock):
    drop = await a_drop(drops_service, supply=1)
    open_now(clock, drop)
    await drops_service.claim(drop.id, "telegram:1")
    with pytest.raises(SoldOut):
        await drops_service.claim(drop.id, "telegram:2")
    batches = drops_service.claims.batches

    for person in range(3, 50):
        with pytest.raises(SoldOut):
            await drops_service.claim(drop.id, f"telegram:{person}")

    assert drops_service.claims.batches == batches


async def test_the_sold_out_hint_never_outlives_the_next_hold_expiry(drops_service: DropService, clock: ManualClock):
    drop = await a_drop(drops_service, supply=1)
    open_now(clock, drop)
    await drops_service.claim(drop.id, "telegram:1")
    with pytest.raises(SoldOut):
        await drops_service.claim(drop.id, "telegram:2")

    clock.advance(timedelta(minutes=10))  # the hold ran out; no sweeper has run

    hold = await drops_service.claim(drop.id, "telegram:3")
    assert hold.identity == "telegram:3"


async def test_claim_before_opening_says_when_it_opens(drops_service: DropService, clock: ManualClock):
    drop = await a_drop(drops_service)

    with pytest.raises(DropNotOpen) as refused:
        await drops_service.claim(drop.id, "telegram:1")

    assert str(refused.value) == f"“Midnight print” is not open yet: it opens {drop.opens_at:%d %b %Y %H:%M} UTC."


async def test_claim_after_closing_time_is_refused_even_before_any_sweep(
    drops_service: DropService, clock: ManualClock
):
    drop = await a_drop(drops_service, closes_in=timedelta(hours=2))
    clock.set(drop.closes_at)

    with pytest.raises(DropClosed):
        await drops_service.claim(drop.id, "telegram:1")


async def test_claim_on_a_cancelled_drop_is_refused(drops_service: DropService, clock: ManualClock):
    drop = await a_drop(drops_service)
    await drops_service.cancel(drop.id)
    open_now(clock, drop)

    with pytest.raises(DropCancelled, match="was cancelled"):
        await drops_service.claim(drop.id, "telegram:1")


async def test_a_malformed_identity_is_refused_before_anything_is_queued(drops_service: DropService, clock):
    drop = await a_drop(drops_service)
    open_now(clock, drop)

    with pytest.raises(InvalidIdentity):
        await drops_service.claim(drop.id, "someone")


async def test_claims_are_decided_without_the_writer_task_too(app, clock: ManualClock):
    service = DropService(app.db, clock, app.catalog)
    drop = await a_drop(service, supply=1)
    open_now(clock, drop)

    await service.claim(drop.id, "telegram:1")
    with pytest.raises(SoldOut):
        await service.claim(drop.id, "telegram:2")


async def test_giving_up_a_hold_frees_the_unit(drops_service: DropService, clock: ManualClock):
    drop = await a_drop(drops_service, supply=1)
    open_now(clock, drop)
    hold = await drops_service.claim(drop.id, "telegram:1")

    await drops_service.give_up_hold(hold.id, "telegram:1")

    assert (await drops_service.claim(drop.id, "telegram:2")).identity == "telegram:2"
    assert await drops_service.holds_of("telegram:1") == []


async def test_stopping_the_writer_answers_every_waiting_click(app, clock: ManualClock):
    service = DropService(app.db, clock, app.catalog)
    drop = await a_drop(service, supply=5)
    open_now(clock, drop)
    service.start()
    clicks = [asyncio.create_task(service.claim(drop.id, f"telegram:{n}")) for n in range(50)]
    await asyncio.sleep(0)  # the clicks are queued; the writer has started on them

    await service.stop()
    outcomes = await asyncio.wait_for(asyncio.gather(*clicks, return_exceptions=True), timeout=10)

    assert all(isinstance(outcome, HoldView | ClaimsUnavailable) for outcome in outcomes)
    assert (await service.get(drop.id)).held <= 5
    assert str(ClaimsUnavailable()) == "Claims are busy right now; please try again in a moment."
