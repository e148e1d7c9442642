"""The membership state machine on its own: what each combination of Stripe facts means for access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from entitlements import MembershipStatus, Observation, ObservationKind, derive_membership

T0 = datetime(2026, 11, 1, tzinfo=UTC)
GRACE = timedelta(days=3)


def snap(n: int, status: str = "active", **fields) -> Observation:
    data = {
        "stripe_status": status,
        "price_id": "price_fan",
        "current_period_end": int((T0 + timedelta(days=30)).timestamp()),
    }
    data.update(fields)
    return Observation(f"evt_{n}", ObservationKind.SNAPSHOT, T0 + timedelta(minutes=n), data)


def seen(n: int, kind: ObservationKind, **data) -> Observation:
    return Observation(f"evt_{n}", kind, T0 + timedelta(minutes=n), data)


def status(*observations: Observation, now: datetime = T0 + timedelta(hours=1)) -> MembershipStatus:
    return derive_membership(observations, now=now, grace=GRACE).status


def test_trialing_grants_access_until_the_trial_ends():
    trial_end = int((T0 + timedelta(days=7)).timestamp())
    membership = derive_membership([snap(1, "trialing", trial_end=trial_end)], now=T0, grace=GRACE)
    assert (membership.status, membership.grants_access) == (MembershipStatus.TRIALING, True)
    assert membership.access_until == T0 + timedelta(days=7)


def test_an_older_snapshot_never_overrides_a_newer_one():
    assert status(snap(5, "active"), snap(1, "incomplete")) is MembershipStatus.ACTIVE


def test_paused_subscription_and_paused_collection_grant_nothing():
    assert status(snap(1, "paused")) is MembershipStatus.PAUSED
    assert status(snap(1, "active", pause_collection=True)) is MembershipStatus.PAUSED


def test_failed_payment_keeps_access_for_the_grace_period_only():
    failed = seen(2, ObservationKind.PAYMENT_FAILED)
    assert status(snap(1), failed, now=T0 + timedelta(minutes=2) + GRACE - timedelta(seconds=1)) is (
        MembershipStatus.PAST_DUE
    )
    assert status(snap(1), failed, now=T0 + timedelta(minutes=2) + GRACE) is MembershipStatus.ENDED


def test_grace_starts_at_the_first_failure_after_the_last_payment():
    observations = [
        snap(1),
        seen(2, ObservationKind.PAYMENT_FAILED),
        seen(3, ObservationKind.PAYMENT_SUCCEEDED),
        seen(10, ObservationKind.PAYMENT_FAILED),
        seen(11, ObservationKind.PAYMENT_FAILED),
    ]
    membership = derive_membership(observations, now=T0 + timedelta(hours=1), grace=GRACE)
    assert membership.grace_until == T0 + timedelta(minutes=10) + GRACE


def test_cancel_at_a_date_keeps_access_until_that_date():
    cancel_at = int((T0 + timedelta(days=5)).timestamp())
    assert status(snap(1, cancel_at=cancel_at)) is MembershipStatus.CANCELING
    assert status(snap(1, cancel_at=cancel_at), now=T0 + timedelta(days=5)) is MembershipStatus.ENDED


def test_deleted_is_final_even_if_an_update_claims_a_later_time():
    deleted = Observation("evt_2", ObservationKind.DELETED, T0 + timedelta(minutes=2), {"stripe_status": "canceled"})
    assert status(snap(1), deleted, snap(3, "active")) is MembershipStatus.ENDED


def test_refund_ends_access_whatever_stripe_says_about_the_subscription():
    membership = derive_membership(
        [snap(1), seen(2, ObservationKind.REVOKED, reason="refunded"), snap(3)],
        now=T0 + timedelta(hours=1),
        grace=GRACE,
    )
    assert (membership.status, membership.end_reason) == (MembershipStatus.ENDED, "refunded")


def test_unpaid_and_incomplete_expired_grant_nothing():
    assert status(snap(1, "unpaid")) is MembershipStatus.ENDED
    assert status(snap(1, "incomplete_expired")) is MembershipStatus.ENDED
    assert status(snap(1, "incomplete")) is MembershipStatus.INCOMPLETE
