"""A generated subscription history with its ground truth.

The generator plays each member's life (subscribe, trial, renew, fail and recover or not, change tier,
cancel with feedback, refund, come back) and emits the Stripe events of it. Alongside, it writes down
what it knows to be true: each subscription's status over time. The expected figures in the tests are
computed from that ground truth, never from the code under test.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

GRACE = timedelta(days=3)
HISTORY_START = datetime(2025, 6, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)

# key: (tier, price_id, amount_minor, currency, interval); must match tests/churn/catalog.toml
PRICES = {
    "fan_month": ("fan", "price_test_fan_month", 500, "usd", "month"),
    "fan_year": ("fan", "price_test_fan_year", 5000, "usd", "year"),
    "creator": ("creator", "price_test_creator_month", 2500, "usd", "month"),
    "brand": ("brand", "price_test_brand_month", 25000, "usd", "month"),
    "supporter": ("supporter", "price_test_supporter_month", 800, "eur", "month"),
}
PRICE_WEIGHTS = {"fan_month": 40, "fan_year": 10, "creator": 25, "brand": 10, "supporter": 15}
UPGRADES = {"fan_month": "creator", "creator": "brand", "brand": "creator"}  # usd monthly tier changes
FEEDBACK = ["too_expensive", "missing_features", "unused", "switched_service", "low_quality", "other"]
COMMENTS = ["saving up", "not using it enough", "found another artist", "wanted more packs", "too many emails"]


@dataclass(frozen=True)
class State:
    """What the generator knows a subscription is at some instant."""

    status: str  # trialing | active | past_due | canceling | ended
    price: str
    end_reason: str | None = None  # canceled | payment_failed | disputed | refunded (when ended)
    feedback: str | None = None
    comment: str | None = None
    until: datetime | None = None  # when a past_due or canceling subscription stops paying

    @property
    def paying(self) -> bool:
        return self.status in ("active", "past_due", "canceling")

    @property
    def tier(self) -> str:
        return PRICES[self.price][0]


@dataclass(frozen=True)
class GeneratedEvent:
    """A Stripe event in the generator's terms; `obj` is the part of the object the handlers read."""

    id: str
    type: str
    created: int
    sub_id: str
    member: int
    obj: dict[str, Any]


@dataclass
class SubTruth:
    sub_id: str
    member: int
    changes: list[tuple[datetime, State]] = field(default_factory=list)

    def at(self, moment: datetime) -> State | None:
        """The state at `moment` (no generated change falls on a month boundary or on NOW)."""
        index = bisect_right([t for t, _ in self.changes], moment)
        return self.changes[index - 1][1] if index else None


@dataclass
class History:
    members: int
    events: list[GeneratedEvent]
    subs: list[SubTruth]
    member_ids: dict[int, int] = field(default_factory=dict)  # generator member number -> stored member id


def _clear_of_boundaries(moment: datetime) -> datetime:
    """Nudge a time off 00:00:00 on the 1st and off NOW, so 'before the boundary' is never a tie."""
    while (moment.day == 1 and moment.time() == datetime.min.time()) or moment == NOW:
        moment += timedelta(seconds=7)
    return moment.replace(microsecond=0)


class _Life:
    def __init__(self, rng: random.Random, history: History, member: int, *, revocations: tuple[str, ...]) -> None:
        self.rng = rng
        self.history = history
        self.member = member
        self.revocations = revocations
        self.counter = 0

    def event(self, sub: SubTruth, event_type: str, when: datetime, obj: dict[str, Any]) -> None:
        self.counter += 1
        self.history.events.append(
            GeneratedEvent(
                id=f"evt_gen_{self.member}_{self.counter}",
                type=event_type,
                created=int(when.timestamp()),
                sub_id=sub.sub_id,
                member=self.member,
                obj=obj,
            )
        )

    def subscription(
        self,
        sub: SubTruth,
        price: str,
        *,
        status: str,
        start: datetime,
        period_end: datetime,
        trial_end: datetime | None = None,
        cancel_at: datetime | None = None,
        ended_at: datetime | None = None,
        cancellation: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        _tier, price_id, amount, currency, interval = PRICES[price]
        return {
            "status": status,
            "price_id": price_id,
            "unit_amount": amount,
            "currency": currency,
            "interval": interval,
            "start_date": int(start.timestamp()),
            "current_period_end": int(period_end.timestamp()),
            "trial_end": int(trial_end.timestamp()) if trial_end else None,
            "cancel_at_period_end": cancel_at is not None,
            "cancel_at": int(cancel_at.timestamp()) if cancel_at else None,
            "ended_at": int(ended_at.timestamp()) if ended_at else None,
            "cancellation": cancellation or {"reason": None, "feedback": None, "comment": None},
        }

    def invoice(self, sub: SubTruth, price: str, *, paid: bool, reason: str) -> dict[str, Any]:
        amount = PRICES[price][2]
        return {"amount": amount, "paid": paid, "billing_reason": reason}

    def at(self, when: datetime) -> datetime:
        return _clear_of_boundaries(when)

    def between(self, start: datetime, end: datetime, low: float = 0.05, high: float = 0.95) -> datetime:
        return self.at(start + (end - start) * self.rng.uniform(low, high))

    def run(self, start: datetime, sub_number: int) -> datetime | None:
        """Play one subscription from `start`; the time it ended, or None if it runs past NOW."""
        rng = self.rng
        sub = SubTruth(f"sub_gen_{self.member}_{sub_number}", self.member)
        self.history.subs.append(sub)
        price = rng.choices(list(PRICE_WEIGHTS), weights=list(PRICE_WEIGHTS.values()))[0]
        period = timedelta(days=365 if PRICES[price][4] == "year" else 30)
        began = start
        t = self.at(start)
        if price == "fan_month" and rng.random() < 0.5:
            trial_end = self.at(t + timedelta(days=7))
            self.event(
                sub,
                "customer.subscription.created",
                t,
                self.subscription(
                    sub, price, status="trialing", start=began, period_end=trial_end, trial_end=trial_end
                ),
            )
            self.event(
                sub,
                "invoice.paid",
                self.at(t + timedelta(seconds=1)),
                self.invoice(sub, price, paid=True, reason="subscription_create"),
            )
            sub.changes.append((t, State("trialing", price)))
            if rng.random() < 0.15:
                self.event(
                    sub,
                    "customer.subscription.deleted",
                    trial_end,
                    self.subscription(
                        sub,
                        price,
                        status="canceled",
                        start=began,
                        period_end=trial_end,
                        trial_end=trial_end,
                        ended_at=trial_end,
                        cancellation={"reason": "cancellation_requested", "feedback": None, "comment": None},
                    ),
                )
                sub.changes.append((trial_end, State("ended", price, end_reason="canceled")))
                return trial_end
            t = trial_end
            self.event(sub, "invoice.paid", t, self.invoice(sub, price, paid=True, reason="subscription_cycle"))
            t = self.at(t + timedelta(seconds=1))
            period_end = self.at(t + period)
            self.event(
                sub,
                "customer.subscription.updated",
                t,
                self.subscription(sub, price, status="active", start=began, period_end=period_end, trial_end=trial_end),
            )
            sub.changes.append((t, State("active", price)))
        else:
            period_end = self.at(t + period)
            self.event(
                sub,
                "customer.subscription.created",
                t,
                self.subscription(sub, price, status="active", start=began, period_end=period_end),
            )
            self.event(
                sub,
                "invoice.paid",
                self.at(t + timedelta(seconds=1)),
                self.invoice(sub, price, paid=True, reason="subscription_create"),
            )
            sub.changes.append((t, State("active", price)))
        return self._periods(sub, price, began, t, period_end, period)

    def _periods(
        self, sub: SubTruth, price: str, began: datetime, t: datetime, period_end: datetime, period: timedelta
    ) -> datetime | None:
        rng = self.rng
        yearly = PRICES[price][4] == "year"
        while t < NOW:
            span = (period_end - t).total_seconds()
            roll = rng.random()
            if roll < 0.06 and price in UPGRADES:
                when = self.between(t, period_end, 0.05, 0.45)
                price = UPGRADES[price]
                self.event(
                    sub,
                    "customer.subscription.updated",
                    when,
                    self.subscription(sub, price, status="active", start=began, period_end=period_end),
                )
                sub.changes.append((when, State("active", price)))
                t = when
                span = (period_end - t).total_seconds()
                roll = rng.random()
            if roll < (0.12 if yearly else 0.05):
                return self._cancel_at_period_end(sub, price, began, t, period_end, span)
            if self.revocations and roll < (0.12 if yearly else 0.05) + 0.012:
                when = self.between(t, period_end)
                reason = rng.choice(self.revocations)
                self.event(sub, f"revoke:{reason}", when, {"reason": reason})
                sub.changes.append((when, State("ended", price, end_reason=reason)))
                return when
            if roll < (0.12 if yearly else 0.05) + 0.024:
                when = self.between(t, period_end)
                cancellation = self._feedback()
                self.event(
                    sub,
                    "customer.subscription.deleted",
                    when,
                    self.subscription(
                        sub,
                        price,
                        status="canceled",
                        start=began,
                        period_end=period_end,
                        ended_at=when,
                        cancellation=cancellation,
                    ),
                )
                sub.changes.append(
                    (when, State("ended", price, "canceled", cancellation["feedback"], cancellation["comment"]))
                )
                return when
            # The renewal at period_end.
            renewal = period_end
            next_end = self.at(renewal + period)
            if rng.random() < 0.07:
                self.event(
                    sub,
                    "invoice.payment_failed",
                    renewal,
                    self.invoice(sub, price, paid=False, reason="subscription_cycle"),
                )
                late = self.at(renewal + timedelta(seconds=1))
                self.event(
                    sub,
                    "customer.subscription.updated",
                    late,
                    self.subscription(sub, price, status="past_due", start=began, period_end=next_end),
                )
                sub.changes.append((renewal, State("past_due", price, until=renewal + GRACE)))
                if rng.random() < 0.5:
                    paid_at = self.at(renewal + timedelta(seconds=rng.uniform(3600, 2.5 * 86400)))
                    self.event(
                        sub, "invoice.paid", paid_at, self.invoice(sub, price, paid=True, reason="subscription_cycle")
                    )
                    self.event(
                        sub,
                        "customer.subscription.updated",
                        self.at(paid_at + timedelta(seconds=1)),
                        self.subscription(sub, price, status="active", start=began, period_end=next_end),
                    )
                    sub.changes.append((paid_at, State("active", price)))
                    t, period_end = paid_at, next_end
                    continue
                ended = renewal + GRACE
                sub.changes.append((ended, State("ended", price, end_reason="payment_failed")))
                gone = self.at(renewal + timedelta(days=10))
                self.event(
                    sub,
                    "customer.subscription.deleted",
                    gone,
                    self.subscription(
                        sub,
                        price,
                        status="canceled",
                        start=began,
                        period_end=next_end,
                        ended_at=gone,
                        cancellation={"reason": "payment_failed", "feedback": None, "comment": None},
                    ),
                )
                return ended
            self.event(sub, "invoice.paid", renewal, self.invoice(sub, price, paid=True, reason="subscription_cycle"))
            self.event(
                sub,
                "customer.subscription.updated",
                self.at(renewal + timedelta(seconds=1)),
                self.subscription(sub, price, status="active", start=began, period_end=next_end),
            )
            t, period_end = renewal, next_end
        return None

    def _feedback(self) -> dict[str, Any]:
        rng = self.rng
        feedback = rng.choice(FEEDBACK) if rng.random() < 0.7 else None
        comment = rng.choice(COMMENTS) if rng.random() < 0.4 else None
        return {"reason": "cancellation_requested", "feedback": feedback, "comment": comment}

    def _cancel_at_period_end(
        self, sub: SubTruth, price: str, began: datetime, t: datetime, period_end: datetime, span: float
    ) -> datetime | None:
        rng = self.rng
        asked = self.at(t + timedelta(seconds=span * rng.uniform(0.05, 0.8)))
        cancellation = self._feedback()
        self.event(
            sub,
            "customer.subscription.updated",
            asked,
            self.subscription(
                sub,
                price,
                status="active",
                start=began,
                period_end=period_end,
                cancel_at=period_end,
                cancellation=cancellation,
            ),
        )
        sub.changes.append(
            (asked, State("canceling", price, None, cancellation["feedback"], cancellation["comment"], period_end))
        )
        if rng.random() < 0.15:
            kept = self.at(asked + timedelta(seconds=(period_end - asked).total_seconds() * 0.5))
            self.event(
                sub,
                "customer.subscription.updated",
                kept,
                self.subscription(sub, price, status="active", start=began, period_end=period_end),
            )
            sub.changes.append((kept, State("active", price)))
            # They stay: the next period renews as usual.
            return self._periods_after_keep(sub, price, began, kept, period_end)
        sub.changes.append(
            (period_end, State("ended", price, "canceled", cancellation["feedback"], cancellation["comment"]))
        )
        self.event(
            sub,
            "customer.subscription.deleted",
            self.at(period_end + timedelta(seconds=30)),
            self.subscription(
                sub,
                price,
                status="canceled",
                start=began,
                period_end=period_end,
                ended_at=period_end,
                cancellation=cancellation,
            ),
        )
        return period_end

    def _periods_after_keep(
        self, sub: SubTruth, price: str, began: datetime, kept: datetime, period_end: datetime
    ) -> datetime | None:
        period = timedelta(days=365 if PRICES[price][4] == "year" else 30)
        renewal = period_end
        next_end = self.at(renewal + period)
        if renewal >= NOW:
            return None
        self.event(sub, "invoice.paid", renewal, self.invoice(sub, price, paid=True, reason="subscription_cycle"))
        self.event(
            sub,
            "customer.subscription.updated",
            self.at(renewal + timedelta(seconds=1)),
            self.subscription(sub, price, status="active", start=began, period_end=next_end),
        )
        return self._periods(sub, price, began, renewal, next_end, period)


def generate(
    members: int,
    *,
    seed: int,
    revocations: tuple[str, ...] = ("disputed", "refunded"),
    start: datetime = HISTORY_START,
) -> History:
    """`members` lives between `start` and NOW, deterministic for a seed."""
    rng = random.Random(seed)
    history = History(members=members, events=[], subs=[])
    span = (NOW - start).total_seconds()
    for member in range(1, members + 1):
        concurrent = rng.random() < 0.03  # holds a second subscription at the same time
        # A refund or dispute ends every subscription of the customer; kept to single-subscription members.
        life = _Life(rng, history, member, revocations=() if concurrent else revocations)
        begin = start + timedelta(seconds=rng.uniform(0, span * 0.97))
        number = 1
        ended = life.run(begin, number)
        while ended is not None and ended < NOW and rng.random() < 0.3:
            again = ended + timedelta(days=rng.uniform(5, 120))
            if again >= NOW:
                break
            number += 1
            ended = life.run(again, number)
        if concurrent:
            life.run(begin + timedelta(seconds=rng.uniform(0, span * 0.5)), 99)
    history.events = [e for e in history.events if e.created <= int(NOW.timestamp())]
    return history
