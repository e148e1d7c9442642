"""Months as packs name them: `YYYY-MM`, in UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from entitlements.packs._errors import InvalidMonth

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> str:
    month = text.strip()
    if not _MONTH.match(month):
        raise InvalidMonth(text)
    return month


def month_of(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m}"


def month_name(month: str) -> str:
    """'2026-12' as 'December 2026'."""
    return datetime.strptime(month, "%Y-%m").strftime("%B %Y")
