"""Adding members' month-end states up into the report's figures, one member at a time."""

from __future__ import annotations

from entitlements import MembershipStatus
from storefront.churn._months import MonthPlan
from storefront.churn._states import MemberAt, SubscriptionAt
from storefront.churn.report import (
    INVOLUNTARY_REASONS,
    AtRiskMember,
    ChurnReport,
    Cohort,
    Comment,
    MonthFigures,
    MrrMovement,
    TierMonth,
)

__all__ = ["Tally", "churn_reason"]

_REASONS = {
    "cancellation_requested": "canceled",
    "canceled": "canceled",
    "payment_failed": "payment_failed",
    "payment_disputed": "disputed",
    "disputed": "disputed",
    "refunded": "refunded",
}
_AT_RISK = frozenset({MembershipStatus.PAST_DUE, MembershipStatus.CANCELING})


def churn_reason(after: SubscriptionAt | None) -> str:
    """Why a subscription stopped paying: canceled, paused, payment_failed, disputed, refunded (or its status)."""
    if after is None:
        return "canceled"
    membership = after.membership
    if membership.status is MembershipStatus.ENDED:
        return _REASONS.get(membership.end_reason or "canceled", membership.end_reason or "canceled")
    return membership.status.value


def _add(totals: dict[str, int], currency: str, amount: int) -> None:
    totals[currency] = totals.get(currency, 0) + amount


class Tally:
    def __init__(self, plan: MonthPlan) -> None:
        self.plan = plan
        count = len(plan.starts)
        self._overall = [TierMonth() for _ in range(count)]
        self._tiers: list[dict[str, TierMonth]] = [{} for _ in range(count)]
        self._mrr_start: list[dict[str, int]] = [{} for _ in range(count)]
        self._mrr: list[dict[str, int]] = [{} for _ in range(count)]
        self._mrr_by_tier: list[dict[str, dict[str, int]]] = [{} for _ in range(count)]
        self._movement: list[dict[str, MrrMovement]] = [{} for _ in range(count)]
        self._reasons: list[dict[str, int]] = [{} for _ in range(count)]
        self._feedback: list[dict[str, int]] = [{} for _ in range(count)]
        self._comments: list[list[Comment]] = [[] for _ in range(count)]
        self._cohorts: list[list[int]] = [[0] * (count - index) for index in range(count)]
        self.at_risk: list[tuple[int, MemberAt]] = []
        self.tiers_seen: set[str] = set()
        self.currencies: set[str] = set()
        self.members_seen = 0

    def _tier(self, month: int, tier: str) -> TierMonth:
        figures = self._tiers[month].get(tier)
        if figures is None:
            figures = self._tiers[month][tier] = TierMonth()
            self.tiers_seen.add(tier)
        return figures

    def add(self, member_id: int, paid_before_window: bool, states: list[MemberAt]) -> None:
        """Count one member, given their state at every boundary of the plan."""
        self.members_seen += 1
        paid_before = paid_before_window or states[0].is_paying
        cohort: int | None = None
        for month in range(len(states) - 1):
            start, end = states[month], states[month + 1]
            self._count_month(month, member_id, start, end, paid_before)
            if end.is_paying and not start.is_paying and not paid_before:
                cohort = month
            if cohort is not None and end.is_paying:
                self._cohorts[cohort][month - cohort] += 1
            paid_before = paid_before or end.is_paying
        now = states[-1]
        if now.is_paying and all(sub.membership.status in _AT_RISK for sub in now.paying):
            self.at_risk.append((member_id, now))

    def _count_month(self, month: int, member_id: int, start: MemberAt, end: MemberAt, paid_before: bool) -> None:
        overall = self._overall[month]
        if start.is_paying:
            overall.active_start += 1
            self._tier(month, start.tier or "").active_start += 1
        if end.is_paying:
            overall.active_end += 1
            self._tier(month, end.tier or "").active_end += 1
            for sub in end.paying:
                self.currencies.add(sub.currency)
                _add(self._mrr[month], sub.currency, sub.mrr)
                _add(self._mrr_by_tier[month].setdefault(sub.tier, {}), sub.currency, sub.mrr)
        elif end.trialing:
            overall.trialing_end += 1
            self._tier(month, end.trialing[0].tier).trialing_end += 1
        before, after = start.mrr, end.mrr
        for currency, amount in before.items():
            self.currencies.add(currency)
            _add(self._mrr_start[month], currency, amount)
        if end.is_paying and not start.is_paying:
            kind = "reactivated" if paid_before else "new"
            for figures in (overall, self._tier(month, end.tier or "")):
                setattr(figures, kind, getattr(figures, kind) + 1)
            for currency, amount in after.items():
                move = self._move(month, currency)
                if paid_before:
                    move.reactivation += amount
                else:
                    move.new += amount
        elif start.is_paying and not end.is_paying:
            self._count_churn(month, member_id, start, end, overall)
            for currency, amount in before.items():
                self._move(month, currency).churned += amount
        elif start.is_paying:
            if start.tier != end.tier:
                self._tier(month, start.tier or "").moved_out += 1
                self._tier(month, end.tier or "").moved_in += 1
            for currency in before.keys() | after.keys():
                change = after.get(currency, 0) - before.get(currency, 0)
                if change > 0:
                    self._move(month, currency).expansion += change
                elif change < 0:
                    self._move(month, currency).contraction -= change

    def _move(self, month: int, currency: str) -> MrrMovement:
        move = self._movement[month].get(currency)
        if move is None:
            move = self._movement[month][currency] = MrrMovement()
        return move

    def _count_churn(self, month: int, member_id: int, start: MemberAt, end: MemberAt, overall: TierMonth) -> None:
        was = start.paying[0]
        after = end.subscriptions.get(was.subscription_id)
        reason = churn_reason(after)
        tier = self._tier(month, was.tier)
        involuntary = reason in INVOLUNTARY_REASONS
        for figures in (overall, tier):
            figures.churned += 1
            if involuntary:
                figures.churned_involuntary += 1
            else:
                figures.churned_voluntary += 1
        _add(self._reasons[month], reason, 1)
        membership = (after or was).membership
        if membership.cancellation_feedback:
            _add(self._feedback[month], membership.cancellation_feedback, 1)
        if membership.cancellation_comment:
            self._comments[month].append(
                Comment(
                    member_id=member_id,
                    month=self.plan.labels[month],
                    tier=was.tier,
                    feedback=membership.cancellation_feedback,
                    comment=membership.cancellation_comment,
                )
            )

    def report(self, tier_order: list[str], at_risk: list[AtRiskMember]) -> ChurnReport:
        plan = self.plan
        labels = plan.labels
        boundaries = plan.boundaries
        months = []
        for index, label in enumerate(labels):
            tiers = {tier: self._tiers[index].get(tier) or TierMonth() for tier in tier_order}
            months.append(
                MonthFigures(
                    month=label,
                    start=boundaries[index],
                    end=boundaries[index + 1],
                    partial=index == len(labels) - 1,
                    overall=self._overall[index],
                    tiers=tiers,
                    mrr_start=dict(sorted(self._mrr_start[index].items())),
                    mrr=dict(sorted(self._mrr[index].items())),
                    mrr_by_tier={t: dict(sorted(self._mrr_by_tier[index].get(t, {}).items())) for t in tier_order},
                    mrr_movement=dict(sorted(self._movement[index].items())),
                    churn_reasons=dict(sorted(self._reasons[index].items())),
                    feedback=dict(sorted(self._feedback[index].items(), key=lambda item: (-item[1], item[0]))),
                    comments=sorted(self._comments[index], key=lambda c: c.member_id),
                )
            )
        cohorts = [
            Cohort(month=labels[index], size=retained[0], retained=retained)
            for index, retained in enumerate(self._cohorts)
        ]
        return ChurnReport(
            generated_at=plan.now,
            tiers=tier_order,
            currencies=sorted(self.currencies),
            months=months,
            cohorts=cohorts,
            at_risk=at_risk,
            members_seen=self.members_seen,
        )
