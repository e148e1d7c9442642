"""A member's state at chosen instants, by folding their observations with `derive_membership`.

The state rules live in `entitlements.membership`; this module only decides *when* to ask them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from entitlements import Membership, MembershipStatus, Observation, derive_membership
from storefront.catalog import Catalog
from storefront.churn._history import MemberHistory
from storefront.months import month_starts_between

__all__ = [
    "OTHER_TIER",
    "PAYING_STATUSES",
    "MemberAt",
    "SubscriptionAt",
    "TierLookup",
    "member_states",
    "monthly_minor",
]

PAYING_STATUSES = frozenset({MembershipStatus.ACTIVE, MembershipStatus.PAST_DUE, MembershipStatus.CANCELING})
"""A paying member holds access through a paid period: trials are not paying, past-due and canceling still are."""

OTHER_TIER = "other"
"""The tier label of a price the catalog does not know (an old or hand-made Stripe price)."""

# derive_membership reads the clock only for a grace period or a cancellation date running out; any other
# state stays the same until the next observation, so it is reused instead of derived again.
_TIME_DEPENDENT = frozenset({MembershipStatus.PAST_DUE, MembershipStatus.CANCELING})
_REVOKED_REASONS = frozenset({"refunded", "disputed"})

# Months per billing interval as a fraction (numerator, denominator): a year is 1/12 month of MRR.
_PER_MONTH = {"month": (1, 1), "year": (1, 12), "week": (52, 12), "day": (365, 12)}


def monthly_minor(membership: Membership) -> int:
    """The subscription's monthly recurring revenue in minor units, rounded to the nearest unit (halves up).

    A yearly price counts as a twelfth per month (5000/year -> 417/month); quantity 1 and interval_count 1
    are assumed, and discounts are not seen in the stored snapshot.
    """
    amount = membership.amount_minor or 0
    numerator, denominator = _PER_MONTH.get(membership.interval or "month", (1, 1))
    return (2 * amount * numerator + denominator) // (2 * denominator)


class TierLookup:
    """Price id -> (tier key, rank), cached; an unknown price is OTHER_TIER, ranked below every tier."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._cache: dict[str | None, tuple[str, int]] = {}

    def __call__(self, price_id: str | None) -> tuple[str, int]:
        found = self._cache.get(price_id)
        if found is None:
            tier = self.catalog.tier_for_price(price_id)
            found = (tier.key, self.catalog.rank(tier.key)) if tier else (OTHER_TIER, -1)
            self._cache[price_id] = found
        return found

    def order(self, seen: Iterable[str]) -> list[str]:
        """Catalog order, then any other tier seen."""
        keys = list(self.catalog.tiers)
        return keys + sorted(set(seen) - set(keys))


class _Timeline:
    """One subscription's observations, asked for its membership at increasing instants."""

    __slots__ = ("_count", "_grace", "_reuse", "_state", "observations", "times")

    def __init__(self, observations: list[Observation], grace: timedelta, reuse: bool) -> None:
        self.observations = observations
        self.times = [seen.created for seen in observations]
        self._grace = grace
        self._reuse = reuse
        self._count = -1
        self._state: Membership | None = None

    def at(self, moment: datetime, *, inclusive: bool) -> Membership | None:
        count = bisect_right(self.times, moment) if inclusive else bisect_left(self.times, moment)
        if count == 0:
            return None
        state = self._state
        if self._reuse and state is not None and count == self._count and state.status not in _TIME_DEPENDENT:
            return state
        state = derive_membership(self.observations[:count], now=moment, grace=self._grace)
        if state.end_reason in _REVOKED_REASONS and state.ended_at is not None:
            state = self._as_it_ended(state)
        self._count, self._state = count, state
        return state

    def _as_it_ended(self, revoked: Membership) -> Membership:
        """A refund or dispute ends every subscription of the customer, old ones too; one that had already
        ended keeps the reason it ended with."""
        assert revoked.ended_at is not None
        count = bisect_left(self.times, revoked.ended_at)
        if count == 0:
            return revoked
        before = derive_membership(self.observations[:count], now=revoked.ended_at, grace=self._grace)
        return before if before.status is MembershipStatus.ENDED else revoked


@dataclass(frozen=True, slots=True)
class SubscriptionAt:
    subscription_id: str
    tier: str
    rank: int
    membership: Membership
    mrr: int
    currency: str


@dataclass(frozen=True, slots=True)
class MemberAt:
    """A member at one instant: every subscription seen so far, and which of them are paying."""

    subscriptions: dict[str, SubscriptionAt]
    paying: tuple[SubscriptionAt, ...]  # best-ranked first
    trialing: tuple[SubscriptionAt, ...]
    is_paying: bool
    tier: str | None  # the best-ranked paying subscription's tier (as access is granted)
    mrr: dict[str, int]  # currency -> monthly minor units of the paying subscriptions


def _member_at(subs: dict[str, SubscriptionAt]) -> MemberAt:
    paying = [sub for sub in subs.values() if sub.membership.status in PAYING_STATUSES]
    trialing = [sub for sub in subs.values() if sub.membership.status is MembershipStatus.TRIALING]
    paying.sort(key=_best_first)
    trialing.sort(key=_best_first)
    mrr: dict[str, int] = {}
    for sub in paying:
        mrr[sub.currency] = mrr.get(sub.currency, 0) + sub.mrr
    return MemberAt(subs, tuple(paying), tuple(trialing), bool(paying), paying[0].tier if paying else None, mrr)


def _best_first(sub: SubscriptionAt) -> tuple[int, str]:
    return (-sub.rank, sub.subscription_id)


_NOBODY = _member_at({})


class _Member:
    """One member's subscriptions; `at` is asked at increasing instants and reuses what did not change."""

    def __init__(self, history: MemberHistory, tiers: TierLookup, grace: timedelta, reuse: bool) -> None:
        self.timelines = [
            (sub_id, _Timeline(observations, grace, reuse)) for sub_id, observations in history.subscriptions.items()
        ]
        self.tiers = tiers
        self._seen: dict[str, SubscriptionAt] = {}
        self._last = _NOBODY

    def first_seen(self) -> datetime:
        return min(timeline.times[0] for _, timeline in self.timelines)

    def at(self, moment: datetime, *, inclusive: bool = False) -> MemberAt:
        seen = self._seen
        subs: dict[str, SubscriptionAt] = {}
        changed = False
        for sub_id, timeline in self.timelines:
            membership = timeline.at(moment, inclusive=inclusive)
            if membership is None:
                continue
            sub = seen.get(sub_id)
            if sub is None or sub.membership is not membership:
                tier, rank = self.tiers(membership.price_id)
                sub = seen[sub_id] = SubscriptionAt(
                    sub_id, tier, rank, membership, monthly_minor(membership), membership.currency or "?"
                )
                changed = True
            subs[sub_id] = sub
        if changed or len(subs) != len(self._last.subscriptions):
            self._last = _member_at(subs) if subs else _NOBODY
        return self._last


def member_states(
    history: MemberHistory,
    boundaries: tuple[datetime, ...],
    tiers: TierLookup,
    grace: timedelta,
    *,
    reuse_stable_states: bool = True,
) -> tuple[bool, list[MemberAt]]:
    """(paid at a month end before the window, the member at each boundary).

    A state at a month boundary folds the observations created strictly before it (an event at
    00:00 on the 1st belongs to the new month); the last boundary is `now` and folds those at or before it.
    """
    member = _Member(history, tiers, grace, reuse_stable_states)
    window_start = boundaries[0]
    paid_before = any(member.at(start).is_paying for start in month_starts_between(member.first_seen(), window_start))
    last = len(boundaries) - 1
    return paid_before, [member.at(moment, inclusive=index == last) for index, moment in enumerate(boundaries)]
