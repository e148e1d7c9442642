"""A short text summary of a churn report, for `/churn` in chat and the CLI."""

from __future__ import annotations

from storefront.churn.report import ChurnReport, MonthFigures
from storefront.money import format_money

__all__ = ["churn_summary_text", "format_rate"]


def format_rate(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f}%"


def _money(amounts: dict[str, int]) -> str:
    return ", ".join(format_money(amount, currency) for currency, amount in amounts.items()) or "0"


def _net(month: MonthFigures) -> str:
    parts = []
    for currency, move in month.mrr_movement.items():
        sign = "+" if move.net >= 0 else ""
        parts.append(f"{sign}{format_money(move.net, currency)}")
    return ", ".join(parts) or "+0"


def _month_line(month: MonthFigures, label: str) -> str:
    o = month.overall
    return (
        f"{label} {month.month}: {o.active_end} paying (+{o.new} new, +{o.reactivated} back, "
        f"-{o.churned} churned: {o.churned_voluntary} voluntary, {o.churned_involuntary} involuntary), "
        f"churn {format_rate(o.churn_rate)}"
    )


async def churn_summary_text(report: ChurnReport) -> str:
    """A few lines: this month to date, last month, MRR and its movement, feedback, members at risk."""
    current = report.latest
    lines = [_month_line(current, "This month")]
    if len(report.months) > 1:
        lines.append(_month_line(report.months[-2], "Last month"))
    rates = ", ".join(
        f"{tier} {format_rate(figures.churn_rate)}" for tier, figures in current.tiers.items() if figures.active_start
    )
    if rates:
        lines.append(f"Churn by tier this month: {rates}")
    lines.append(f"MRR {_money(current.mrr)} (net {_net(current)} this month)")
    feedback = report.feedback_totals()
    if feedback:
        top = ", ".join(f"{reason} {count}" for reason, count in list(feedback.items())[:3])
        lines.append(f"Cancellation feedback ({len(report.months)} months): {top}")
    past_due = sum(1 for member in report.at_risk if member.status == "past_due")
    canceling = sum(1 for member in report.at_risk if member.status == "canceling")
    lines.append(f"At risk now: {past_due} past due, {canceling} canceling")
    return "\n".join(lines)
