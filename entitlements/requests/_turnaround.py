"""How long a request may take: its tier's turnaround."""

from __future__ import annotations

from datetime import timedelta

from storefront.catalog import Tier

__all__ = ["turnaround_of"]

DEFAULT_TURNAROUND_DAYS = 7  # for a request whose tier has left the catalog since


def turnaround_of(tier: Tier | None) -> timedelta:
    """The tier's target time for a request (the catalog's `request_turnaround_days`)."""
    return timedelta(days=tier.grants.request_turnaround_days if tier else DEFAULT_TURNAROUND_DAYS)
