"""The calendar of requests: the quota's month (UTC) and a tier's turnaround."""

from __future__ import annotations

from datetime import datetime, timedelta

from storefront.catalog import Tier

__all__ = ["month_start", "next_month_start", "turnaround_of"]

DEFAULT_TURNAROUND_DAYS = 7  # for a request whose tier has left the catalog since


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(now: datetime) -> datetime:
    start = month_start(now)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def turnaround_of(tier: Tier | None) -> timedelta:
    """The tier's target time for a request (the catalog's `request_turnaround_days`)."""
    return timedelta(days=tier.grants.request_turnaround_days if tier else DEFAULT_TURNAROUND_DAYS)
