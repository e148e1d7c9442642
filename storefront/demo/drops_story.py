"""The drops chapters of the demo: schedule, early access, opening rush, sold out, waitlist, payment, result."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from drops import DropError, DropInput, DropService, HoldView, countdown_text
from storefront.db.tables import outbox
from storefront.demo.world import DemoWorld

__all__ = ["drops_chapters"]

Chapter = Callable[[DemoWorld], Awaitable[None]]

CREATOR_PRICE = ("price_demo_creator_month", 2500)
CREATOR_ADMIN = "discord:9001"
CREATOR_FAN = "telegram:3001"  # a member of the Creator tier: early access
STRANGER = "telegram:3002"
RUSH = ["discord:3003", "telegram:3004", "telegram:3005", "discord:3006"]


class _DropStory:
    """One drop told across chapters; the state between chapters lives here, not in globals."""

    def __init__(self) -> None:
        self.service: DropService | None = None
        self.drop_id = 0
        self.holds: dict[str, HoldView] = {}

    def _service(self, world: DemoWorld) -> DropService:
        if self.service is None:
            wired = getattr(world.app, "drops", None)
            if isinstance(wired, DropService):
                self.service = wired
            else:
                self.service = DropService(world.app.db, world.clock, world.app.catalog, stripe=world.app.stripe)
                world.app.purchases.register("drop", self.service.purchases)
        return self.service

    async def _countdown(self, world: DemoWorld) -> None:
        view = await self._service(world).get(self.drop_id)
        world.say(f"      countdown: {countdown_text(view, world.clock.now())}")

    async def _claim(self, world: DemoWorld, identity: str) -> None:
        try:
            hold = await self._service(world).claim(self.drop_id, identity)
        except DropError as refusal:
            world.say(f"      {identity} claims -> {type(refusal).__name__}: {refusal}")
            return
        self.holds[identity] = hold
        world.say(f"      {identity} claims -> unit held until {hold.expires_at:%H:%M} UTC")

    async def _pay(self, world: DemoWorld, identity: str) -> None:
        service = self._service(world)
        hold = self.holds[identity]
        link = await service.checkout_link(hold.id, identity)
        session = world.events.checkout_session(
            mode="payment",
            client_reference_id=identity,
            customer=None,
            payment_intent=f"pi_demo_{hold.id[-8:]}",
            amount_total=hold.price.amount_minor,
            metadata={"kind": "drop", "drop_id": str(self.drop_id), "hold_id": hold.id, "member": identity},
        )
        session["id"] = link.session_id
        status = await world.deliver(world.events.event("checkout.session.completed", session))
        world.say(f"      {identity} pays at {link.url[:45]}... -> checkout.session.completed answered {status}")

    async def schedule(self, world: DemoWorld) -> None:
        say = world.say
        say("Drops 1. A creator schedules a drop: 3 signed prints, early access for the Creator tier")
        member = world.events.subscription(
            sub_id="sub_cus_demo_cleo",
            customer="cus_demo_cleo",
            member=CREATOR_FAN,
            price_id=CREATOR_PRICE[0],
            unit_amount=CREATOR_PRICE[1],
        )
        await world.deliver(world.events.event("customer.subscription.created", member))
        await world.show_member(CREATOR_FAN)
        service = self._service(world)
        opens = world.clock.now() + timedelta(hours=2)
        spec = DropInput.parse(
            title="Aurora print",
            description="Signed and numbered, 3 only",
            price="25.00 USD",
            supply="3",
            opens_at=opens.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m-%d %H:%M Europe/Paris"),
            closes_at="never",
            early_access_tiers="creator",
            per_person_limit="1",
            asset="aurora-print.zip",
        )
        drop = await service.create(spec, creator=CREATOR_ADMIN)
        self.drop_id = drop.id
        say(f"  -> drop #{drop.id} '{drop.title}' {drop.price}, supply {drop.supply}, phase {drop.phase}")
        await self._countdown(world)
        for identity in (CREATOR_FAN, *RUSH[:2]):
            await service.notify_me(drop.id, identity)
        say(f"      {len(await service.subscribers(drop.id))} people pressed Notify me")
        try:
            DropInput.parse(title="Oops", price="25 USD", supply=1, opens_at="2026-12-01 18:00")
        except DropError as refusal:
            say(f"      a creator forgets the time zone -> {refusal}")

    async def early_access(self, world: DemoWorld) -> None:
        service = self._service(world)
        world.say("Drops 2. The clock reaches the early-access window (30 minutes before opening)")
        drop = await service.get(self.drop_id)
        world.clock.set(drop.early_opens_at + timedelta(minutes=1))
        report = await service.run_due()
        world.say(f"  -> timers: {report.reminders_queued} early-access reminder(s) queued")
        await self._countdown(world)
        await self._claim(world, CREATOR_FAN)
        await self._claim(world, STRANGER)
        world.say("      the Creator member pays at once (a signed checkout.session.completed through the webhook)")
        await self._pay(world, CREATOR_FAN)

    async def opening_rush(self, world: DemoWorld) -> None:
        service = self._service(world)
        world.say("Drops 3. Opening: several fans click Claim at once; the supply is never exceeded")
        drop = await service.get(self.drop_id)
        world.clock.set(drop.opens_at)
        await service.run_due()
        for identity in RUSH:
            await self._claim(world, identity)
        await self._countdown(world)
        for identity in RUSH[2:]:
            spot = await service.join_waitlist(self.drop_id, identity)
            world.say(f"      {identity} joins the waitlist at position {spot.position}")

    async def hold_expires(self, world: DemoWorld) -> None:
        service = self._service(world)
        world.say("Drops 4. One winner pays, the other never does: the hold expires, the first in line gets the unit")
        await self._pay(world, RUSH[0])
        world.clock.advance(timedelta(minutes=10, seconds=30))
        report = await service.run_due()
        world.say(f"  -> timers: {report.holds_released} hold(s) expired, {report.offers_sent} waitlist offer(s) sent")
        [offer] = await service.holds_of(RUSH[2])
        self.holds[RUSH[2]] = offer
        world.say(f"      {RUSH[2]} now holds a unit until {offer.expires_at:%H:%M} UTC (a DM with a Pay link)")

    async def payment(self, world: DemoWorld) -> None:
        world.say("Drops 5. Stripe reports the paid checkout (signed webhook): the hold becomes a sale, item DMed")
        await self._pay(world, RUSH[2])
        view = await self._service(world).get(self.drop_id)
        world.say(f"      sold {view.sold} of {view.supply}, held {view.held}: the last sale closes the drop")

    async def result(self, world: DemoWorld) -> None:
        service = self._service(world)
        result = await service.result(self.drop_id)
        world.say(
            f"Drops 6. Result: {result.sold} of {result.supply} sold to {result.buyers} buyers for {result.revenue}, "
            f"phase {result.phase} ({result.close_reason})"
        )
        await self._countdown(world)
        async with world.app.db.read() as conn:
            rows = (await conn.execute(sa.select(outbox.c.key, outbox.c.payload).order_by(outbox.c.id))).all()
        templates: dict[str, int] = {}
        for key, payload in rows:
            if key.startswith("drop:"):
                template = _template(payload)
                templates[template] = templates.get(template, 0) + 1
        summary = ", ".join(f"{count} {name}" for name, count in templates.items())
        world.say(f"      drop DMs queued for the bots: {summary}")


def _template(payload: Any) -> str:
    return payload.get("template", "?") if isinstance(payload, dict) else "?"


def drops_chapters() -> list[Chapter]:
    story = _DropStory()
    return [
        story.schedule,
        story.early_access,
        story.opening_rush,
        story.hold_expires,
        story.payment,
        story.result,
    ]
