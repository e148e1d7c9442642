"""One-off purchases through Stripe Checkout (mode=payment), shared by every domain that sells them.

The session's parameters, how long it stays open, and which row a refunded or disputed payment paid for.
The webhook side routes the events back by `metadata.kind` (`webhooks.purchases.PurchaseRegistry`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["checkout_lifetime", "paid_by", "payment_checkout_params"]


def checkout_lifetime(minutes: int) -> timedelta:
    """How long a one-off Checkout stays open: `minutes`, within what Stripe accepts (30 minutes to 24 hours)."""
    return timedelta(minutes=min(max(minutes, 31), 24 * 60 - 1))


def payment_checkout_params(
    kind: str,
    fields: Mapping[str, str],
    *,
    line_item: dict[str, Any],
    identity: str,
    expires_at: datetime,
    public_base_url: str,
) -> dict[str, Any]:
    """A one-off Checkout (mode=payment) whose events come back to `kind` in the `PurchaseRegistry`:
    `metadata.kind` on the session, and the same metadata on its payment intent, which refunds and disputes are
    traced by."""
    metadata = {"kind": kind, **fields}
    return {
        "mode": "payment",
        "line_items": [line_item],
        "client_reference_id": identity,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "expires_at": int(expires_at.timestamp()),
        "success_url": f"{public_base_url}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{public_base_url}/checkout/cancel",
    }


async def paid_by(conn: AsyncConnection, table: sa.Table, payment_intent: str | None) -> Any:
    """The row of `table` whose `payment_intent` is the one a refund or dispute names, if any."""
    if not payment_intent:
        return None
    return (await conn.execute(sa.select(table).where(table.c.payment_intent == payment_intent))).first()
