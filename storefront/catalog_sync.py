"""`storefront catalog sync`: create the Stripe products and prices the catalog lacks, write their ids back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import tomlkit

from storefront.catalog import Interval, Tier, load_catalog
from storefront.stripe_gateway import StripeGateway

__all__ = ["sync_catalog"]


async def sync_catalog(path: Path, stripe: StripeGateway, progress: Callable[[str], None] = print) -> int:
    """How many Stripe objects were created. Each id is written back at once, so a re-run resumes."""
    catalog = load_catalog(path)
    created = 0
    for tier in catalog.tiers.values():
        product_id = tier.stripe_product_id
        if not product_id:
            product_id = await stripe.create_product(
                {"name": tier.name, "metadata": {"tier": tier.key}},
                idempotency_key=f"catalog-sync:product:{tier.key}",
            )
            _write_back(path, tier.key, "stripe_product_id", product_id)
            progress(f"{tier.key}: created product {product_id}")
            created += 1
        for interval, field in (("month", "stripe_monthly_price_id"), ("year", "stripe_annual_price_id")):
            if tier.amount(interval) is None or getattr(tier, field):
                continue
            price_id = await stripe.create_price(
                _price_params(tier, interval, product_id),
                idempotency_key=f"catalog-sync:price:{tier.key}:{interval}:{tier.amount(interval)}:{tier.currency}",
            )
            _write_back(path, tier.key, field, price_id)
            progress(f"{tier.key}: created {interval}ly price {price_id}")
            created += 1
    return created


def _price_params(tier: Tier, interval: Interval, product_id: str) -> dict[str, object]:
    return {
        "product": product_id,
        "unit_amount": tier.amount(interval),
        "currency": tier.currency,
        "recurring": {"interval": interval},
        "lookup_key": f"{tier.key}_{interval}ly",
        "metadata": {"tier": tier.key},
    }


def _write_back(path: Path, tier_key: str, field: str, value: str) -> None:
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    document["tiers"][tier_key][field] = value  # type: ignore[index]
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
