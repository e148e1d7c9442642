"""One-off purchases (Checkout in payment mode) are routed by `metadata.kind` to the domain that sold them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from webhooks.stripe_payloads import ChargePayload, CheckoutSessionPayload, DisputePayload

__all__ = ["PurchaseKind", "PurchaseRegistry", "checkout_lifetime", "paid_by", "payment_checkout_params"]


class PurchaseKind(Protocol):
    """What a domain that sells one-off items (a drop unit, a license, a custom request) answers."""

    async def completed(self, conn: AsyncConnection, session: CheckoutSessionPayload, now: datetime) -> None: ...

    async def expired(self, conn: AsyncConnection, session: CheckoutSessionPayload, now: datetime) -> None: ...

    async def refunded(self, conn: AsyncConnection, charge: ChargePayload, now: datetime) -> bool:
        """Handle a refund if the charge paid for one of this kind's purchases; True if it did."""
        ...

    async def disputed(self, conn: AsyncConnection, dispute: DisputePayload, now: datetime) -> bool: ...


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
    """A one-off Checkout (mode=payment) whose events come back to the `kind` registered here: `metadata.kind`
    on the session, and the same metadata on its payment intent, which refunds and disputes are traced by."""
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


class PurchaseRegistry:
    def __init__(self) -> None:
        self._kinds: dict[str, PurchaseKind] = {}

    def register(self, kind: str, handler: PurchaseKind) -> None:
        self._kinds[kind] = handler

    def for_session(self, session: CheckoutSessionPayload) -> PurchaseKind | None:
        return self._kinds.get(session.metadata.get("kind", ""))

    async def refunded(self, conn: AsyncConnection, charge: ChargePayload, now: datetime) -> bool:
        for kind in self._kinds.values():
            if await kind.refunded(conn, charge, now):
                return True
        return False

    async def disputed(self, conn: AsyncConnection, dispute: DisputePayload, now: datetime) -> bool:
        for kind in self._kinds.values():
            if await kind.disputed(conn, dispute, now):
                return True
        return False
