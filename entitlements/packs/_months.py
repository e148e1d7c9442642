"""A month a creator names for a pack: `YYYY-MM` (`storefront.months` has the calendar)."""

from __future__ import annotations

import re

from entitlements.packs._errors import InvalidMonth

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> str:
    month = text.strip()
    if not _MONTH.match(month):
        raise InvalidMonth(text)
    return month
