"""The membership state machine: a fold over what Stripe told us about one subscription.

Events are sorted by their Stripe `created` time before folding, so the state reached does not
depend on the order or the number of times they arrived: a late, older event never overwrites
a newer state, and a duplicate changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from storefront.clock import utc_from_timestamp

__all__ = [
    "GRANTING_STATUSES",
    "Membership",
    "MembershipStatus",
    "Observation",
    "ObservationKind",
    "derive_membership",
]


class MembershipStatus(StrEnum):
    INCOMPLETE = "incomplete"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELING = "canceling"
    PAUSED = "paused"
    ENDED = "ended"


GRANTING_STATUSES = frozenset(
    {MembershipStatus.TRIALING, MembershipStatus.ACTIVE, MembershipStatus.PAST_DUE, MembershipStatus.CANCELING}
)


class ObservationKind(StrEnum):
    SNAPSHOT = "snapshot"
    DELETED = "deleted"
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Observation:
    """One thing Stripe said about a subscription, at the event's `created` time."""

    event_id: str
    kind: ObservationKind
    created: datetime
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Membership:
    status: MembershipStatus
    stripe_status: str | None = None
    price_id: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    interval: str | None = None
    started_at: datetime | None = None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False
    access_until: datetime | None = None
    grace_until: datetime | None = None
    trial_end: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None
    cancellation_reason: str | None = None
    cancellation_feedback: str | None = None
    cancellation_comment: str | None = None

    @property
    def grants_access(self) -> bool:
        return self.status in GRANTING_STATUSES


_ENDED_STRIPE_STATUSES = frozenset({"canceled", "incomplete_expired", "unpaid"})


def _time(value: Any) -> datetime | None:
    return utc_from_timestamp(value) if isinstance(value, int | float) else None


def derive_membership(observations: Iterable[Observation], *, now: datetime, grace: timedelta) -> Membership:
    """The membership state that Stripe's observations add up to at `now`."""
    snapshot: Mapping[str, Any] | None = None
    snapshot_at: datetime | None = None
    deleted_at: datetime | None = None
    failing_since: datetime | None = None
    revoked: tuple[str, datetime] | None = None

    for seen in sorted(observations, key=lambda o: (o.created, o.event_id)):
        if seen.kind in (ObservationKind.SNAPSHOT, ObservationKind.DELETED):
            snapshot, snapshot_at = seen.data, seen.created
            if seen.kind is ObservationKind.DELETED and deleted_at is None:
                deleted_at = seen.created
            if seen.data.get("stripe_status") == "past_due":
                failing_since = failing_since or seen.created
            elif seen.data.get("stripe_status") in ("active", "trialing"):
                failing_since = None
        elif seen.kind is ObservationKind.PAYMENT_SUCCEEDED:
            failing_since = None
        elif seen.kind is ObservationKind.PAYMENT_FAILED:
            failing_since = failing_since or seen.created
        elif seen.kind is ObservationKind.REVOKED and revoked is None:
            revoked = (str(seen.data.get("reason", "revoked")), seen.created)

    if snapshot is None:
        return Membership(status=MembershipStatus.ENDED if revoked else MembershipStatus.INCOMPLETE)

    cancellation = snapshot.get("cancellation") or {}
    base = Membership(
        status=MembershipStatus.ACTIVE,
        stripe_status=snapshot.get("stripe_status"),
        price_id=snapshot.get("price_id"),
        amount_minor=snapshot.get("amount_minor"),
        currency=snapshot.get("currency"),
        interval=snapshot.get("interval"),
        started_at=_time(snapshot.get("start_date")),
        current_period_end=_time(snapshot.get("current_period_end")),
        cancel_at_period_end=bool(snapshot.get("cancel_at_period_end")),
        trial_end=_time(snapshot.get("trial_end")),
        cancellation_reason=cancellation.get("reason"),
        cancellation_feedback=cancellation.get("feedback"),
        cancellation_comment=cancellation.get("comment"),
    )
    return _status_of(base, snapshot, snapshot_at, deleted_at, failing_since, revoked, now, grace)


def _status_of(
    base: Membership,
    snapshot: Mapping[str, Any],
    snapshot_at: datetime | None,
    deleted_at: datetime | None,
    failing_since: datetime | None,
    revoked: tuple[str, datetime] | None,
    now: datetime,
    grace: timedelta,
) -> Membership:
    stripe_status = base.stripe_status
    if revoked is not None:
        return replace(base, status=MembershipStatus.ENDED, end_reason=revoked[0], ended_at=revoked[1])
    if deleted_at is not None or stripe_status in _ENDED_STRIPE_STATUSES:
        ended_at = _time(snapshot.get("ended_at")) or deleted_at or snapshot_at
        reason = base.cancellation_reason or "canceled"
        return replace(base, status=MembershipStatus.ENDED, end_reason=reason, ended_at=ended_at)
    if stripe_status == "paused" or snapshot.get("pause_collection"):
        return replace(base, status=MembershipStatus.PAUSED)
    if stripe_status == "incomplete":
        return replace(base, status=MembershipStatus.INCOMPLETE)
    if failing_since is not None:
        grace_until = failing_since + grace
        if now >= grace_until:
            return replace(
                base,
                status=MembershipStatus.ENDED,
                end_reason="payment_failed",
                ended_at=grace_until,
                grace_until=grace_until,
            )
        return replace(base, status=MembershipStatus.PAST_DUE, grace_until=grace_until, access_until=grace_until)
    if stripe_status == "trialing":
        return replace(base, status=MembershipStatus.TRIALING, access_until=base.trial_end)
    cancel_at = _time(snapshot.get("cancel_at"))
    if base.cancel_at_period_end or cancel_at is not None:
        ends = cancel_at or base.current_period_end
        if ends is not None and now >= ends:
            return replace(base, status=MembershipStatus.ENDED, end_reason="canceled", ended_at=ends)
        return replace(base, status=MembershipStatus.CANCELING, access_until=ends)
    return replace(base, status=MembershipStatus.ACTIVE, access_until=base.current_period_end)
