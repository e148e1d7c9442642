"""Edge cases of the churn definitions, on small histories recorded as the webhook handlers record them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from entitlements import Membership, MembershipStatus, Observation, ObservationKind
from storefront.app import App
from storefront.churn import ChurnReports, MonthsOutOfRange, compute_churn
from storefront.churn._states import monthly_minor
from storefront.clock import ManualClock
from storefront.members import ensure_member

NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


def _snapshot(status: str = "active", price: str = "price_test_fan_month", amount: int = 500, **more: Any):
    return {
        "stripe_status": status,
        "price_id": price,
        "amount_minor": amount,
        "currency": "usd",
        "interval": "year" if price.endswith("year") else "month",
        "current_period_end": int((NOW + timedelta(days=20)).timestamp()),
        "cancel_at_period_end": False,
        "cancel_at": None,
        "ended_at": None,
        "start_date": None,
        "trial_end": None,
        "pause_collection": False,
        "cancellation": {"reason": None, "feedback": None, "comment": None},
        **more,
    }


async def _record(app: App, who: str, sub_id: str, *observations: tuple[str, ObservationKind, datetime, dict]):
    async with app.db.write() as conn:
        member_id = await ensure_member(conn, who, observations[0][2])
        for event_id, kind, created, data in observations:
            await app.memberships.record(
                conn,
                member_id=member_id,
                subscription_id=sub_id,
                observation=Observation(event_id, kind, created, data),
                event_type="test",
            )


async def _report(app: App, months: int = 3):
    return await compute_churn(app.db, app.catalog, now=NOW, grace=timedelta(days=3), months=months)


async def test_an_event_at_midnight_on_the_first_counts_in_the_new_month(app: App) -> None:
    midnight = datetime(2026, 10, 1, tzinfo=UTC)
    await _record(app, "telegram:1", "sub_1", ("evt_1", ObservationKind.SNAPSHOT, midnight, _snapshot()))
    report = await _report(app)
    september, october = report.months[0], report.months[1]
    assert (september.month, september.overall.new, september.overall.active_end) == ("2026-09", 0, 0)
    assert (october.month, october.overall.new, october.overall.active_end) == ("2026-10", 1, 1)


async def test_trialing_members_are_counted_apart_from_paying_ones(app: App) -> None:
    started = datetime(2026, 11, 2, tzinfo=UTC)
    trial = _snapshot("trialing", trial_end=int((NOW + timedelta(days=3)).timestamp()))
    await _record(app, "telegram:2", "sub_2", ("evt_2", ObservationKind.SNAPSHOT, started, trial))
    november = (await _report(app)).latest
    assert (november.overall.active_end, november.overall.trialing_end, november.tiers["fan"].trialing_end) == (0, 1, 1)
    assert november.mrr == {}


async def test_a_refund_after_the_subscription_ended_keeps_the_reason_it_ended_with(app: App) -> None:
    failed = datetime(2026, 10, 10, tzinfo=UTC)
    await _record(
        app,
        "telegram:3",
        "sub_3",
        ("evt_3a", ObservationKind.SNAPSHOT, datetime(2026, 9, 5, tzinfo=UTC), _snapshot()),
        ("evt_3b", ObservationKind.PAYMENT_FAILED, failed, {"invoice": "in_3", "amount": 0}),
        ("evt_3c", ObservationKind.REVOKED, datetime(2026, 10, 20, tzinfo=UTC), {"reason": "refunded"}),
    )
    october = (await _report(app)).months[1]
    assert (october.overall.churned, october.overall.churned_involuntary) == (1, 1)
    assert october.churn_reasons == {"payment_failed": 1}


async def test_a_member_holding_two_tiers_counts_once_in_the_better_tier(app: App) -> None:
    when = datetime(2026, 9, 10, tzinfo=UTC)
    await _record(app, "telegram:4", "sub_4a", ("evt_4a", ObservationKind.SNAPSHOT, when, _snapshot()))
    await _record(
        app,
        "telegram:4",
        "sub_4b",
        ("evt_4b", ObservationKind.SNAPSHOT, when, _snapshot(price="price_test_creator_month", amount=2500)),
    )
    latest = (await _report(app)).latest
    assert (latest.overall.active_end, latest.tiers["creator"].active_end, latest.tiers["fan"].active_end) == (1, 1, 0)
    assert latest.mrr == {"usd": 3000}
    assert latest.mrr_by_tier["fan"] == {"usd": 500} and latest.mrr_by_tier["creator"] == {"usd": 2500}


def test_a_yearly_price_counts_a_twelfth_per_month_rounded_half_up() -> None:
    def yearly(amount: int) -> int:
        return monthly_minor(Membership(MembershipStatus.ACTIVE, amount_minor=amount, interval="year"))

    assert (yearly(5000), yearly(6), yearly(18), yearly(17), yearly(12)) == (417, 1, 2, 1, 1)
    assert monthly_minor(Membership(MembershipStatus.ACTIVE, amount_minor=500, interval="month")) == 500


async def test_a_report_of_zero_or_too_many_months_is_refused_with_a_readable_message(app: App) -> None:
    for months in (0, 61):
        with pytest.raises(MonthsOutOfRange, match=f"covers 1 to 60 months, not {months}"):
            await _report(app, months)


async def test_a_report_is_shared_for_five_minutes_then_computed_again(app: App, clock: ManualClock) -> None:
    reports = ChurnReports(app.db, app.catalog, clock, timedelta(days=3))
    first = await reports.get(3)
    snapshot = (ObservationKind.SNAPSHOT, NOW - timedelta(hours=1), _snapshot())
    await _record(app, "telegram:9", "sub_9", ("evt_9", *snapshot))
    assert await reports.get(3) is first
    clock.advance(timedelta(minutes=5))
    again = await reports.get(3)
    assert again.latest.overall.active_end == first.latest.overall.active_end + 1
