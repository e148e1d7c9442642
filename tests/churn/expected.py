"""The figures a churn report must show, computed straight from the generator's ground truth.

This follows the definitions written in `storefront/churn/report.py`, from scratch: plain loops over
what the generator knows, no code from `storefront.churn`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tests.churn.generated import HISTORY_START, NOW, PRICES, History, State, SubTruth

RANK = {"fan": 500, "supporter": 800, "creator": 2500, "brand": 25000}  # the catalog ranks tiers by monthly price
REASON_KIND = {
    "canceled": "voluntary",
    "payment_failed": "involuntary",
    "disputed": "involuntary",
    "refunded": "involuntary",
}
COUNTS = (
    "active_start",
    "active_end",
    "trialing_end",
    "new",
    "reactivated",
    "churned",
    "churned_voluntary",
    "churned_involuntary",
    "moved_in",
    "moved_out",
)


def month_starts(first: datetime, last: datetime) -> list[datetime]:
    """Month starts from `first`'s month to `last`'s month, inclusive."""
    out = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        out.append(datetime(year, month, 1, tzinfo=UTC))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def window(months: int) -> list[datetime]:
    return month_starts(HISTORY_START, NOW)[-months:]


def monthly_value(price: str) -> int:
    _tier, _price_id, amount, _currency, interval = PRICES[price]
    value = Decimal(amount) / 12 if interval == "year" else Decimal(amount)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


class MemberView:
    def __init__(self, subs: list[SubTruth]) -> None:
        self.subs = subs

    def at(self, moment: datetime) -> dict[str, State]:
        states = {sub.sub_id: sub.at(moment) for sub in self.subs}
        return {sub_id: state for sub_id, state in states.items() if state is not None}

    @staticmethod
    def best(states: dict[str, State], status_test: Any) -> list[tuple[str, State]]:
        chosen = [(sub_id, s) for sub_id, s in states.items() if status_test(s)]
        return sorted(chosen, key=lambda item: (-RANK[item[1].tier], item[0]))

    def paying(self, moment: datetime) -> list[tuple[str, State]]:
        return self.best(self.at(moment), lambda s: s.paying)

    def mrr(self, moment: datetime) -> Counter[str]:
        total: Counter[str] = Counter()
        for _sub_id, state in self.paying(moment):
            total[PRICES[state.price][3]] += monthly_value(state.price)
        return total


def expected_figures(history: History, months: int = 12) -> dict[str, Any]:
    starts = window(months)
    boundaries = [*starts, NOW]
    labels = [f"{s.year:04d}-{s.month:02d}" for s in starts]
    subs_of: dict[int, list[SubTruth]] = defaultdict(list)
    for sub in history.subs:
        if sub.changes and sub.changes[0][0] <= NOW:
            subs_of[sub.member].append(sub)

    per_month = [
        {
            "overall": Counter(),
            "tiers": defaultdict(Counter),
            "mrr": Counter(),
            "mrr_start": Counter(),
            "mrr_by_tier": defaultdict(Counter),
            "movement": defaultdict(Counter),
            "reasons": Counter(),
            "feedback": Counter(),
            "comments": [],
        }
        for _ in labels
    ]
    cohorts = [[0] * (len(labels) - i) for i in range(len(labels))]
    at_risk = []

    earlier_month_ends = [s for s in month_starts(HISTORY_START, starts[0]) if s <= starts[0]]
    for member, subs in subs_of.items():
        view = MemberView(subs)
        paid_before = any(view.paying(moment) for moment in earlier_month_ends)
        cohort = None
        for i, label in enumerate(labels):
            figures = per_month[i]
            before, after = view.paying(boundaries[i]), view.paying(boundaries[i + 1])
            mrr_before, mrr_after = view.mrr(boundaries[i]), view.mrr(boundaries[i + 1])
            figures["mrr_start"].update(mrr_before)
            figures["mrr"].update(mrr_after)
            for _sub_id, state in after:
                figures["mrr_by_tier"][state.tier][PRICES[state.price][3]] += monthly_value(state.price)
            if before:
                figures["overall"]["active_start"] += 1
                figures["tiers"][before[0][1].tier]["active_start"] += 1
            if after:
                figures["overall"]["active_end"] += 1
                figures["tiers"][after[0][1].tier]["active_end"] += 1
            else:
                trialing = view.best(view.at(boundaries[i + 1]), lambda s: s.status == "trialing")
                if trialing:
                    figures["overall"]["trialing_end"] += 1
                    figures["tiers"][trialing[0][1].tier]["trialing_end"] += 1
            if after and not before:
                kind = "reactivated" if paid_before else "new"
                figures["overall"][kind] += 1
                figures["tiers"][after[0][1].tier][kind] += 1
                for currency, amount in mrr_after.items():
                    figures["movement"][currency]["reactivation" if paid_before else "new"] += amount
                if not paid_before:
                    cohort = i
            elif before and not after:
                sub_id, was = before[0]
                ended = view.at(boundaries[i + 1])[sub_id]
                assert ended.status == "ended", (member, label, ended)
                kind = REASON_KIND[ended.end_reason]
                for counter in (figures["overall"], figures["tiers"][was.tier]):
                    counter["churned"] += 1
                    counter[f"churned_{kind}"] += 1
                figures["reasons"][ended.end_reason] += 1
                if ended.feedback:
                    figures["feedback"][ended.feedback] += 1
                if ended.comment:
                    figures["comments"].append(
                        {"member": member, "tier": was.tier, "feedback": ended.feedback, "comment": ended.comment}
                    )
                for currency, amount in mrr_before.items():
                    figures["movement"][currency]["churned"] += amount
            elif before and after:
                if before[0][1].tier != after[0][1].tier:
                    figures["tiers"][before[0][1].tier]["moved_out"] += 1
                    figures["tiers"][after[0][1].tier]["moved_in"] += 1
                for currency in set(mrr_before) | set(mrr_after):
                    change = mrr_after[currency] - mrr_before[currency]
                    if change > 0:
                        figures["movement"][currency]["expansion"] += change
                    elif change < 0:
                        figures["movement"][currency]["contraction"] += -change
            if cohort is not None and after:
                cohorts[cohort][i - cohort] += 1
            paid_before = paid_before or bool(after)
        now_paying = view.paying(NOW)
        if now_paying and all(state.status in ("past_due", "canceling") for _, state in now_paying):
            at_risk.append(
                {
                    "member": member,
                    "tier": now_paying[0][1].tier,
                    "status": now_paying[0][1].status,
                    "until": max(state.until for _, state in now_paying),
                    "mrr": dict(view.mrr(NOW)),
                }
            )
    return {"labels": labels, "months": per_month, "cohorts": cohorts, "at_risk": at_risk}
