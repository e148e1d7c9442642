"""Refunds and disputes of one-off purchases kept as one row each, found by their Stripe payment intent.

The `refunded` / `disputed` half of a `PurchaseKind` shared by licenses and paid custom requests: a full refund
or a dispute reverses the purchase; a partial refund (a goodwill discount) keeps it. Each kind says what
reversing means for it (`_reverse`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storefront.one_off_checkout import paid_by
from webhooks.stripe_payloads import ChargePayload, DisputePayload

__all__ = ["DISPUTED", "REFUNDED", "ReversedOnRefundOrDispute"]

REFUNDED = "refunded"
DISPUTED = "disputed"


class ReversedOnRefundOrDispute:
    """Mixin: `refunded` and `disputed` for purchases held in `_paid_rows`; the class implements `_reverse`."""

    _paid_rows: ClassVar[sa.Table]

    async def refunded(self, conn: AsyncConnection, charge: ChargePayload, now: datetime) -> bool:
        row = await paid_by(conn, self._paid_rows, charge.payment_intent)
        if row is None:
            return False
        if charge.refunded:  # a partial refund (a goodwill discount) keeps the purchase
            await self._reverse(conn, row, REFUNDED, now)
        return True

    async def disputed(self, conn: AsyncConnection, dispute: DisputePayload, now: datetime) -> bool:
        # The dispute handler fills in the payment intent from the charge when Stripe left it out.
        row = await paid_by(conn, self._paid_rows, dispute.payment_intent)
        if row is None:
            return False
        await self._reverse(conn, row, DISPUTED, now)
        return True

    async def _reverse(self, conn: AsyncConnection, row: Any, reason: str, now: datetime) -> None:
        """Money taken back (`reason` is REFUNDED or DISPUTED): undo what the purchase gave, once."""
        raise NotImplementedError
