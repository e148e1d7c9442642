"""Calendar months in UTC, the unit of download and request quotas, monthly packs and churn reports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

__all__ = ["month_name", "month_of", "month_start", "month_starts_between", "next_month_start"]


def month_of(moment: datetime) -> str:
    """`YYYY-MM` of the month holding `moment` (UTC)."""
    return f"{moment.astimezone(UTC):%Y-%m}"


def month_name(month: str) -> str:
    """`2026-12` -> `December 2026`."""
    return datetime.strptime(month, "%Y-%m").strftime("%B %Y")


def month_start(moment: datetime) -> datetime:
    """00:00 UTC on the first day of the month holding `moment`."""
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month_start(moment: datetime) -> datetime:
    start = month_start(moment)
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


def month_starts_between(after: datetime, before: datetime) -> Iterator[datetime]:
    """Every month start strictly after `after` and strictly before `before`, in order."""
    start = next_month_start(after)
    while start < before:
        yield start
        start = next_month_start(start)
