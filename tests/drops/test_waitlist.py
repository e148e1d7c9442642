"""The waitlist: in line in the order people joined; a unit that comes back is held for the first of them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from drops import DropClosed, DropService, SoldOut, WaitlistStatus
from storefront.clock import ManualClock
from tests.drops.builders import a_drop, open_now


async def test_joining_twice_keeps_your_place(drops_service: DropService, clock: ManualClock):
    drop = await a_drop(drops_service, supply=1)
    open_now(clock, drop)
    await drops_service.claim(drop.id, "telegram:1")
    await drops_service.join_waitlist(drop.id, "telegram:2")
    await drops_service.join_waitlist(drop.id, "telegram:3")

    again = await drops_service.join_waitlist(drop.id, "telegram:2")

    assert (again.status, again.position) == (WaitlistStatus.WAITING, 1)


async def test_leaving_and_joining_again_goes_to_the_back(drops_service: DropService, clock: ManualClock):
    drop = await a_drop(drops_service, supply=1)
    open_now(clock, drop)
    await drops_service.claim(drop.id, "telegram:1")
    for person in ("telegram:2", "telegram:3"):
        await drops_service.join_waitlist(drop.id, person)

    assert await drops_service.leave_waitlist(drop.id, "telegram:2") is True
    back = await drops_service.join_waitlist(drop.id, "telegram:2")

    assert back.position == 2
    assert [s.identity for s in await drops_service.waitlist(drop.id)] == ["telegram:3", "telegram:2"]


async def test_joining_while_a_unit_is_free_holds_it_at_once(drops_service: DropService, clock: ManualClock):
    drop = await a_drop(drops_service, supply=1)
    open_now(clock, drop)
    await drops_service.claim(drop.id, "telegram:1")
    clock.advance(timedelta(minutes=10))  # the hold ran out; nobody swept yet

    spot = await drops_service.join_waitlist(drop.id, "telegram:2")

    assert spot.status is WaitlistStatus.OFFERED
    [hold] = await drops_service.holds_of("telegram:2")
    assert (hold.id, hold.source) == (spot.hold_id, "waitlist")


async def test_people_in_line_are_served_before_a_new_click(drops_service: DropService, clock: ManualClock):
    drop = await a_drop(drops_service, supply=1)
    open_now(clock, drop)
    await drops_service.claim(drop.id, "telegram:1")
    await drops_service.join_waitlist(drop.id, "telegram:2")
    clock.advance(timedelta(minutes=10))  # the hold ran out; no sweeper ran

    with pytest.raises(SoldOut):
        await drops_service.claim(drop.id, "telegram:3")

    assert len(await drops_service.holds_of("telegram:2")) == 1


async def test_no_waitlist_for_a_closed_drop(drops_service: DropService, clock: ManualClock):
    drop = await a_drop(drops_service, supply=1, closes_in=timedelta(hours=2))
    clock.set(drop.closes_at)

    with pytest.raises(DropClosed):
        await drops_service.join_waitlist(drop.id, "telegram:2")
