"""Reading what a creator types: moments with a time zone, prices, tier lists. Each refusal is one line."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drops.errors import BadDropInput
from storefront.money import currency_exponent

__all__ = ["MOMENT_EXAMPLE", "parse_moment", "parse_price", "parse_tier_list"]

MOMENT_EXAMPLE = "2026-12-01 18:00 Europe/Paris or 2026-12-01T18:00+01:00"
_PRICE = re.compile(r"^(?:([A-Za-z]{3})\s*([0-9][0-9.,]*)|([0-9][0-9.,]*)\s*([A-Za-z]{3}))$")


def parse_price(text: str) -> tuple[int, str]:
    """`12.50 usd`, `USD 12.50` or `1500 JPY` -> (minor units, lowercase currency)."""
    match = _PRICE.match(text.strip())
    if not match:
        raise BadDropInput("price", f"{text!r} is not a price; write it like 12.50 USD")
    currency = (match.group(1) or match.group(4)).lower()
    amount_text = (match.group(2) or match.group(3)).replace(",", "")
    exponent = currency_exponent(currency)
    try:
        amount = Decimal(amount_text)
    except InvalidOperation:
        raise BadDropInput("price", f"{text!r} is not a price; write it like 12.50 USD") from None
    minor = amount.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise BadDropInput("price", f"{currency.upper()} has {exponent} decimal places at most (got {text!r})")
    return int(minor), currency


def parse_moment(text: str, field: str) -> datetime:
    """An instant with an explicit time zone, as aware UTC; naive times are refused rather than guessed."""
    raw = text.strip()
    if not raw:
        raise BadDropInput(field, f"is empty; write it like {MOMENT_EXAMPLE}")
    moment = _iso(raw)
    if moment is None and " " in raw:
        local, zone_name = raw.rsplit(" ", 1)
        zone = _zone(zone_name)
        naive = _iso(local)
        if zone is not None and naive is not None and naive.tzinfo is None:
            moment = _in_zone(naive, zone, field, text)
    if moment is None:
        raise BadDropInput(field, f"{text!r} is not a date and time; write it like {MOMENT_EXAMPLE}")
    if moment.tzinfo is None:
        raise BadDropInput(field, f"{text!r} has no time zone; write it like {MOMENT_EXAMPLE}")
    return moment.astimezone(UTC)


def _iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _zone(name: str) -> ZoneInfo | None:
    if name.upper() in ("UTC", "Z", "GMT"):
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _in_zone(naive: datetime, zone: ZoneInfo, field: str, text: str) -> datetime:
    """Attach a zone, refusing wall-clock times a daylight-saving change skips."""
    moment = naive.replace(tzinfo=zone)
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise BadDropInput(field, f"{text!r} does not exist in {zone.key} (the clocks skip it)")
    return moment


def parse_tier_list(text: str) -> list[str]:
    """`creator, brand` or `creator brand` -> ['creator', 'brand']; `none` or empty -> []."""
    parts = [part for part in re.split(r"[\s,]+", text.strip().lower()) if part]
    return [] if parts in ([], ["none"], ["-"]) else parts
