"""The churn chapter of the demo: a few members' last months arrive as (back-dated) Stripe events,
then the admin's churn summary is printed, as `storefront churn` and `/churn` show it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from storefront.churn import churn_report, churn_summary_text
from storefront.demo.world import DemoWorld

__all__ = ["churn_chapters"]

FAN, FAN_YEAR = ("price_demo_fan_month", 500, "month"), ("price_demo_fan_year", 5000, "year")
CREATOR, BRAND = ("price_demo_creator_month", 2500, "month"), ("price_demo_brand_month", 25000, "month")


@dataclass
class _Member:
    world: DemoWorld
    name: str
    telegram_id: int

    @property
    def identity(self) -> str:
        return f"telegram:{self.telegram_id}"

    @property
    def customer(self) -> str:
        return f"cus_demo_{self.name.lower()}"

    async def send(self, event_type: str, obj: dict[str, Any], when: datetime) -> None:
        await self.world.deliver(self.world.events.event(event_type, obj, created=int(when.timestamp())))

    def subscription(self, number: int, price: tuple[str, int, str], period_end: datetime, **changes: Any):
        return self.world.events.subscription(
            sub_id=f"sub_{self.customer}_{number}",
            customer=self.customer,
            member=self.identity,
            price_id=price[0],
            unit_amount=price[1],
            interval=price[2],
            current_period_end=int(period_end.timestamp()),
            **changes,
        )

    async def subscribes(self, price: tuple[str, int, str], when: datetime, number: int = 1) -> datetime:
        period_end = when + timedelta(days=365 if price[2] == "year" else 30)
        await self.send("customer.subscription.created", self.subscription(number, price, period_end), when)
        await self.pays(price, when + timedelta(seconds=1), number, paid=True)
        return period_end

    async def renews(self, price: tuple[str, int, str], when: datetime, number: int = 1) -> datetime:
        """The renewal at `when` is paid; the next period ends a month later."""
        await self.pays(price, when, number, paid=True)
        period_end = when + timedelta(days=30)
        await self.send("customer.subscription.updated", self.subscription(number, price, period_end), when)
        return period_end

    async def pays(self, price: tuple[str, int, str], when: datetime, number: int = 1, *, paid: bool) -> None:
        invoice = self.world.events.invoice(
            sub_id=f"sub_{self.customer}_{number}",
            customer=self.customer,
            member=self.identity,
            amount=price[1],
            paid=paid,
            billing_reason="subscription_cycle",
        )
        await self.send("invoice.paid" if paid else "invoice.payment_failed", invoice, when)


def _months_ago(now: datetime, months: int, day: int) -> datetime:
    """10:00 UTC on `day` of the month `months` before the month of `now`."""
    index = now.year * 12 + now.month - 1 - months
    return now.replace(year=index // 12, month=index % 12 + 1, day=day, hour=10, minute=0, second=0, microsecond=0)


async def churn_report_for_admins(world: DemoWorld) -> None:
    say, now = world.say, world.clock.now()
    say("Churn 1. Churn for admins: eight more members' last months arrive as Stripe events (back-dated)")

    def member(name: str, telegram_id: int) -> _Member:
        return _Member(world, name, telegram_id)

    dee, eli, fay, gus = member("Dee", 5001), member("Eli", 5002), member("Fay", 5003), member("Gus", 5004)
    hal, ivy, jo, kim = member("Hal", 5005), member("Ivy", 5006), member("Jo", 5007), member("Kim", 5008)
    await dee.subscribes(FAN, _months_ago(now, 4, 10))
    await hal.subscribes(FAN_YEAR, _months_ago(now, 3, 20))

    ends = await eli.renews(CREATOR, await eli.subscribes(CREATOR, _months_ago(now, 3, 5)))
    feedback = {"reason": "cancellation_requested", "feedback": "too_expensive", "comment": "money is tight"}
    await eli.send(
        "customer.subscription.updated",
        eli.subscription(1, CREATOR, ends, cancel_at_period_end=True, cancel_at=int(ends.timestamp()),
                         cancellation=feedback),
        _months_ago(now, 2, 20),
    )  # fmt: skip
    say("   Eli cancels Creator at period end: too expensive")

    fay_renewal = await fay.renews(FAN, await fay.subscribes(FAN, _months_ago(now, 3, 12)))
    await fay.pays(FAN, fay_renewal, paid=False)
    say("   Fay's renewal fails and is never paid: her grace period runs out")

    gus_ends = await gus.subscribes(FAN, _months_ago(now, 2, 3))
    await gus.send("customer.subscription.updated", gus.subscription(1, CREATOR, gus_ends), _months_ago(now, 1, 10))
    say("   Gus upgrades from Fan to Creator")

    ivy_ends = await ivy.subscribes(CREATOR, _months_ago(now, 4, 1))
    unused = {"reason": "cancellation_requested", "feedback": "unused", "comment": None}
    await ivy.send(
        "customer.subscription.deleted",
        ivy.subscription(1, CREATOR, ivy_ends, status="canceled", ended_at=int(_months_ago(now, 2, 8).timestamp()),
                         cancellation=unused),
        _months_ago(now, 2, 8),
    )  # fmt: skip
    await ivy.subscribes(FAN, min(_months_ago(now, 0, 5), now - timedelta(minutes=5)), number=2)
    say("   Ivy leaves Creator (unused), then comes back on Fan")

    jo_ends = await jo.renews(FAN, await jo.subscribes(FAN, now - timedelta(days=40)))
    missing = {"reason": "cancellation_requested", "feedback": "missing_features", "comment": "want more packs"}
    await jo.send(
        "customer.subscription.updated",
        jo.subscription(1, FAN, jo_ends, cancel_at_period_end=True, cancel_at=int(jo_ends.timestamp()),
                        cancellation=missing),
        now - timedelta(minutes=3),
    )  # fmt: skip
    await kim.subscribes(CREATOR, _months_ago(now, 2, 15))
    await kim.pays(CREATOR, now - timedelta(minutes=2), paid=False)
    say("   Jo asks to cancel at period end; Kim's latest renewal just failed")

    report = await churn_report(world.app, months=4)
    say("  -> `storefront churn --months 4` (and `/churn 4` in chat) now says:")
    for line in (await churn_summary_text(report)).splitlines():
        say(f"      {line}")
    at_risk = ", ".join(f"{m.identities[0] if m.identities else m.member_id} ({m.status})" for m in report.at_risk)
    say(f"  -> members at risk on the admin page: {at_risk or 'none'}")


def churn_chapters() -> list[Callable[[DemoWorld], Awaitable[None]]]:
    return [churn_report_for_admins]
