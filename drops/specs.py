"""The checks on a drop that span fields or need the catalog, and the columns of a valid drop."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drops.errors import BadDropInput
from drops.models import Money
from drops.supply import early_access_starts
from storefront.catalog import Catalog

__all__ = ["current_fields", "drop_columns", "early_access_of"]


def early_access_of(catalog: Catalog, tiers: tuple[str, ...], minutes: int | None) -> dict[str, int]:
    """{tier: minutes before opening}; minutes default to each tier's `drop_early_access_minutes`."""
    early: dict[str, int] = {}
    for key in tiers:
        tier = catalog.tiers.get(key)
        if tier is None:
            known = ", ".join(catalog.tiers)
            raise BadDropInput("early_access_tiers", f"unknown tier {key!r}; choose from {known}")
        granted = minutes if minutes is not None else tier.grants.drop_early_access_minutes
        if granted <= 0:
            raise BadDropInput(
                "early_access_minutes", f"the {tier.name} tier grants no early access in the catalog; give minutes"
            )
        early[key] = granted
    if minutes is not None and not tiers:
        raise BadDropInput("early_access_tiers", "name the tiers that get early access")
    return early


def drop_columns(catalog: Catalog, fields: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The columns of a valid drop from its fields (as `DropInput` gives them); BadDropInput otherwise."""
    price = fields["price"]
    price = price if isinstance(price, Money) else Money.model_validate(price)
    opens_at, closes_at = fields["opens_at"], fields.get("closes_at")
    if opens_at <= now:
        raise BadDropInput("opens_at", f"{opens_at:%Y-%m-%d %H:%M} UTC is in the past")
    if closes_at is not None and closes_at <= opens_at:
        raise BadDropInput("closes_at", "must be after the opening time")
    if fields["per_person_limit"] > fields["supply"]:
        raise BadDropInput("per_person_limit", f"cannot be more than the supply ({fields['supply']})")
    early = early_access_of(catalog, tuple(fields.get("early_access_tiers") or ()), fields.get("early_access_minutes"))
    return {
        "title": fields["title"],
        "description": fields.get("description") or "",
        "price_minor": price.amount_minor,
        "currency": price.currency,
        "supply": fields["supply"],
        "opens_at": opens_at,
        "early_opens_at": early_access_starts(early, opens_at),
        "closes_at": closes_at,
        "early_access": early,
        "per_person_limit": fields["per_person_limit"],
        "asset": fields.get("asset"),
    }


def current_fields(row: Any) -> dict[str, Any]:
    """A stored drop as the fields of `DropInput`, for merging an edit."""
    minutes = set(row.early_access.values())
    return {
        "title": row.title,
        "description": row.description,
        "price": Money(amount_minor=row.price_minor, currency=row.currency),
        "supply": row.supply,
        "opens_at": row.opens_at,
        "closes_at": row.closes_at,
        "early_access_tiers": tuple(row.early_access),
        "early_access_minutes": minutes.pop() if len(minutes) == 1 else None,
        "per_person_limit": row.per_person_limit,
        "asset": row.asset,
    }
