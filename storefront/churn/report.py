"""The churn report's figures, and their JSON and CSV forms.

Definitions (all from the stored billing history, so the same history always gives the same report):

- Months are calendar months in UTC. The last month of a report is the current one, to date ("partial").
- A member's state at an instant is `derive_membership` over the observations of each of their
  subscriptions. The state at the end of a month folds the observations created before 00:00 UTC on the
  1st of the next month (an event at exactly midnight belongs to the new month); the end of the current
  month is `now` and folds the observations created at or before it.
- A member is *paying* when at least one subscription is active, past_due (in grace) or canceling
  (cancel requested, period not over). Trialing members are not paying; they are counted apart.
- A member's *tier* is the tier of their best-ranked paying subscription (the one access is granted for).
- `active_start` / `active_end`: paying members at the start / end of the month, per tier.
- `new`: paying at the end of the month and at no earlier month end (the member's first paid month).
- `reactivated`: paying at the end of the month, not at its start, but at some earlier month end.
- `churned`: paying at the start of the month and not at its end; counted in the tier they had at the start.
- `moved_in` / `moved_out`: paying at both ends but in another tier (an upgrade or downgrade, not churn).
  Per tier: active_end = active_start + new + reactivated + moved_in - moved_out - churned.
- `churn_rate` = churned / active_start of the same tier and month (None when active_start is 0).
- Voluntary churn: the subscription ended because a cancellation was requested (or it was paused).
  Involuntary churn: it ended because payment failed (grace period ran out), was disputed or was refunded.
  The reason is read from the member's best-ranked subscription that was paying at the start of the month;
  a refund or dispute recorded after a subscription had already ended does not rewrite why it ended.
- Cancellation feedback and comments: Stripe's `cancellation_details` on that subscription, for churned members.
- MRR: the monthly value of every paying subscription (yearly prices / 12, rounded to the nearest minor unit),
  per currency. Movement between a member's MRR at the start and the end of the month:
  new (a new member), reactivation, expansion / contraction (still paying, more / less), churned (stopped paying);
  net = new + reactivation + expansion - contraction - churned = MRR at end - MRR at start.
- Cohorts: members grouped by their first paid month (those counted as `new`); `retained[k]` is how many of
  them are paying at the end of the k-th month after it (`retained[0]` is the cohort's size).
- Members at risk (at `now`): paying members all of whose paying subscriptions are past_due or canceling.

These are month-end snapshots: a member who starts and stops paying inside one month is not seen.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "INVOLUNTARY_REASONS",
    "REPORT_SCHEMA",
    "AtRiskMember",
    "ChurnReport",
    "Cohort",
    "Comment",
    "MonthFigures",
    "MrrMovement",
    "TierMonth",
    "report_csv",
    "report_json",
]

REPORT_SCHEMA = "storefront.churn/1"
INVOLUNTARY_REASONS = frozenset({"payment_failed", "disputed", "refunded"})


@dataclass
class TierMonth:
    active_start: int = 0
    active_end: int = 0
    trialing_end: int = 0
    new: int = 0
    reactivated: int = 0
    churned: int = 0
    churned_voluntary: int = 0
    churned_involuntary: int = 0
    moved_in: int = 0
    moved_out: int = 0

    @property
    def churn_rate(self) -> float | None:
        """Members churned during the month / paying members at its start."""
        return self.churned / self.active_start if self.active_start else None

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "churn_rate": self.churn_rate}


@dataclass
class MrrMovement:
    """Minor units, all positive; `net` is the signed change."""

    new: int = 0
    reactivation: int = 0
    expansion: int = 0
    contraction: int = 0
    churned: int = 0

    @property
    def net(self) -> int:
        return self.new + self.reactivation + self.expansion - self.contraction - self.churned

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "net": self.net}


@dataclass(frozen=True)
class Comment:
    member_id: int
    month: str
    tier: str
    feedback: str | None
    comment: str


@dataclass
class MonthFigures:
    month: str
    start: datetime
    end: datetime
    partial: bool
    overall: TierMonth
    tiers: dict[str, TierMonth]
    mrr_start: dict[str, int]
    mrr: dict[str, int]
    mrr_by_tier: dict[str, dict[str, int]]
    mrr_movement: dict[str, MrrMovement]
    churn_reasons: dict[str, int] = field(default_factory=dict)
    feedback: dict[str, int] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)


@dataclass(frozen=True)
class Cohort:
    month: str
    size: int
    retained: list[int]

    @property
    def retention(self) -> list[float]:
        return [kept / self.size for kept in self.retained] if self.size else []


@dataclass(frozen=True)
class AtRiskMember:
    member_id: int
    identities: list[str]
    tier: str
    status: str
    until: datetime | None
    mrr: dict[str, int]
    cancellation_feedback: str | None
    cancellation_comment: str | None


@dataclass
class ChurnReport:
    generated_at: datetime
    tiers: list[str]
    currencies: list[str]
    months: list[MonthFigures]
    cohorts: list[Cohort]
    at_risk: list[AtRiskMember]
    members_seen: int

    @property
    def latest(self) -> MonthFigures:
        return self.months[-1]

    def feedback_totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for month in self.months:
            for reason, count in month.feedback.items():
                totals[reason] = totals.get(reason, 0) + count
        return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))

    def comments(self) -> list[Comment]:
        return [comment for month in reversed(self.months) for comment in month.comments]


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def report_json(report: ChurnReport) -> dict[str, Any]:
    """The report as JSON-ready data (`storefront churn --json`); `schema` names this layout."""
    return {
        "schema": REPORT_SCHEMA,
        "generated_at": _time(report.generated_at),
        "tiers": report.tiers,
        "currencies": report.currencies,
        "members_seen": report.members_seen,
        "months": [
            {
                "month": month.month,
                "start": _time(month.start),
                "end": _time(month.end),
                "partial": month.partial,
                "overall": month.overall.to_json(),
                "tiers": {tier: figures.to_json() for tier, figures in month.tiers.items()},
                "mrr_start": month.mrr_start,
                "mrr": month.mrr,
                "mrr_by_tier": month.mrr_by_tier,
                "mrr_movement": {currency: move.to_json() for currency, move in month.mrr_movement.items()},
                "churn_reasons": month.churn_reasons,
                "feedback": month.feedback,
                "comments": [comment.__dict__ for comment in month.comments],
            }
            for month in report.months
        ],
        "feedback_totals": report.feedback_totals(),
        "cohorts": [
            {"month": c.month, "size": c.size, "retained": c.retained, "retention": c.retention} for c in report.cohorts
        ],
        "at_risk": [{**member.__dict__, "until": _time(member.until)} for member in report.at_risk],
    }


_CSV_COUNTS = (
    "active_start",
    "new",
    "reactivated",
    "moved_in",
    "moved_out",
    "churned",
    "churned_voluntary",
    "churned_involuntary",
    "active_end",
    "trialing_end",
)


def report_csv(report: ChurnReport) -> str:
    """One row per month and tier (tier `all` for the whole membership), MRR at month end per currency."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["month", "tier", *_CSV_COUNTS, "churn_rate", *(f"mrr_{c}" for c in report.currencies)])
    for month in report.months:
        rows = [("all", month.overall, month.mrr)]
        rows += [(tier, month.tiers[tier], month.mrr_by_tier.get(tier, {})) for tier in report.tiers]
        for tier, figures, mrr in rows:
            rate = figures.churn_rate
            writer.writerow(
                [
                    month.month,
                    tier,
                    *(getattr(figures, name) for name in _CSV_COUNTS),
                    "" if rate is None else f"{rate:.4f}",
                    *(mrr.get(currency, 0) for currency in report.currencies),
                ]
            )
    return out.getvalue()
