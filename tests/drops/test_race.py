"""THE RACE: thousands of people claim at once on a real SQLite file; exactly the supply is held, never more."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
import sqlalchemy as sa

from drops import DropError, DropOptions, DropService, HoldView, LimitReached, SoldOut, WaitlistStatus
from drops.tables import drop_holds, drop_sales
from storefront.app import App
from storefront.clock import ManualClock
from storefront.db import Database
from tests.drops.builders import a_drop, open_now
from webhooks.stripe_payloads import CheckoutSessionPayload

PEOPLE, SUPPLY = 5000, 100


async def claim_all(service: DropService, drop_id: int, clicks: list[str], rng: random.Random):
    async def click(identity: str) -> tuple[str, HoldView | DropError]:
        for _ in range(rng.randrange(4)):
            await asyncio.sleep(0)  # arrivals interleave, so the writer sees many batches of different sizes
        try:
            return identity, await service.claim(drop_id, identity)
        except DropError as refusal:
            return identity, refusal

    return await asyncio.gather(*(click(identity) for identity in clicks))


async def units_taken(app: App, drop_id: int, now) -> tuple[int, int]:
    """(paid units, live holds) straight from the database."""
    async with app.db.read() as conn:
        sold = await conn.scalar(sa.select(sa.func.count()).where(drop_sales.c.drop_id == drop_id))
        held = await conn.scalar(
            sa.select(sa.func.count()).where(
                drop_holds.c.drop_id == drop_id, drop_holds.c.status == "held", drop_holds.c.expires_at > now
            )
        )
    return sold, held


async def members_with_two(app: App, drop_id: int) -> list[int]:
    async with app.db.read() as conn:
        rows = await conn.execute(
            sa.select(drop_holds.c.member_id)
            .where(drop_holds.c.drop_id == drop_id, drop_holds.c.status.in_(["held", "sold"]))
            .group_by(drop_holds.c.member_id)
            .having(sa.func.count() > 1)
        )
        return [row.member_id for row in rows]


async def pay(app: App, service: DropService, holds: list[HoldView], now) -> None:
    """Stripe reports these holds paid (one transaction for all, to keep the test quick)."""
    async with app.db.write() as conn:
        for hold in holds:
            session = CheckoutSessionPayload(
                id=f"cs_test_{hold.id}",
                mode="payment",
                status="complete",
                payment_status="paid",
                client_reference_id=hold.identity,
                payment_intent=f"pi_{hold.id}",
                amount_total=hold.price.amount_minor,
                currency=hold.price.currency,
                metadata={"kind": "drop", "drop_id": str(hold.drop_id), "hold_id": hold.id, "member": hold.identity},
            )
            await service.purchases.completed(conn, session, now)


@pytest.mark.parametrize("seed", range(5))
async def test_five_thousand_people_race_for_a_hundred_units(app: App, clock: ManualClock, seed: int):
    rng = random.Random(seed)
    options = DropOptions(
        max_claims_per_batch=rng.choice([64, 700, 5000]),
        sold_out_hint_seconds=rng.choice([0, 2]),  # 0: every click goes to the database
        waitlist_hold_minutes=2,
    )
    service = DropService(app.db, clock, app.catalog, options=options)
    service.start()
    try:
        drop = await a_drop(service, supply=SUPPLY, per_person_limit=1)
        open_now(clock, drop)
        people = [f"{rng.choice(['telegram', 'discord'])}:{100_000 + n}" for n in range(PEOPLE)]
        rng.shuffle(people)
        impatient = set(rng.sample(people, 500))  # they click twice in a row
        clicks = [identity for identity in people for _ in range(2 if identity in impatient else 1)]

        results = await claim_all(service, drop.id, clicks, rng)

        holds = [outcome for _who, outcome in results if isinstance(outcome, HoldView)]
        refusals = [outcome for _who, outcome in results if not isinstance(outcome, HoldView)]
        assert len(holds) == SUPPLY
        assert len({hold.member_id for hold in holds}) == SUPPLY
        assert all(isinstance(refusal, SoldOut | LimitReached) for refusal in refusals)
        assert await units_taken(app, drop.id, clock.now()) == (0, SUPPLY)
        assert await members_with_two(app, drop.id) == []

        # 20 who lost join the waitlist in some order; then 5 holders let their unit go.
        losers = sorted({who for who, outcome in results if isinstance(outcome, SoldOut)} - {h.identity for h in holds})
        line = rng.sample(losers, 20)
        for identity in line:
            spot = await service.join_waitlist(drop.id, identity)
            assert spot.status is WaitlistStatus.WAITING
        clock.advance(timedelta(minutes=1))
        for hold in rng.sample(holds, 5):
            await service.give_up_hold(hold.id, hold.identity)

        spots = await service.waitlist(drop.id)
        assert [s.identity for s in spots] == line
        assert [s.status for s in spots] == [WaitlistStatus.OFFERED] * 5 + [WaitlistStatus.WAITING] * 15
        assert [s.position for s in spots[5:]] == list(range(1, 16))
        assert await units_taken(app, drop.id, clock.now()) == (0, SUPPLY)

        # Three of the five offered pay; two let their (shorter) offer run out: the next two in line get them.
        offered = {h.identity: h for h in await _live_holds(service, line[:5])}
        await pay(app, service, [offered[identity] for identity in line[:3]], clock.now())
        clock.advance(options.waitlist_hold)
        assert await service.release_expired_holds() == 2
        spots = {s.identity: s.status for s in await service.waitlist(drop.id)}
        assert [spots.get(identity) for identity in line[5:8]] == [
            WaitlistStatus.OFFERED,
            WaitlistStatus.OFFERED,
            WaitlistStatus.WAITING,
        ]
        sold, held = await units_taken(app, drop.id, clock.now())
        assert (sold, held) == (3, SUPPLY - 3)
        assert await members_with_two(app, drop.id) == []
    finally:
        await service.stop()


async def _live_holds(service: DropService, identities: list[str]) -> list[HoldView]:
    return [hold for identity in identities for hold in await service.holds_of(identity)]


async def test_two_processes_on_one_file_never_oversell(app: App, clock: ManualClock, settings):
    """Two services with their own engines (as two processes would have) race on the same SQLite file."""
    other_db = Database(settings.database_url)
    first = DropService(app.db, clock, app.catalog, options=DropOptions(max_claims_per_batch=50))
    second = DropService(other_db, clock, app.catalog, options=DropOptions(max_claims_per_batch=50))
    first.start()
    second.start()
    try:
        drop = await a_drop(first, supply=SUPPLY)
        open_now(clock, drop)
        rng = random.Random(7)
        people = [f"telegram:{200_000 + n}" for n in range(1000)]
        services = [first, second]
        results = await asyncio.gather(
            *(
                claim_all(services[n % 2], drop.id, people[n::2] + rng.sample(people, 50), rng)
                for n in range(len(services))
            )
        )
        holds = [outcome for part in results for _who, outcome in part if isinstance(outcome, HoldView)]
        assert len(holds) == SUPPLY
        assert await units_taken(app, drop.id, clock.now()) == (0, SUPPLY)
        assert await members_with_two(app, drop.id) == []
    finally:
        await first.stop()
        await second.stop()
        await other_db.dispose()
