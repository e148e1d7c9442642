"""One-off purchases (Checkout in payment mode) are routed by `metadata.kind` to the domain that sold them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from webhooks.stripe_payloads import ChargePayload, CheckoutSessionPayload, DisputePayload

__all__ = ["PurchaseKind", "PurchaseRegistry"]


class PurchaseKind(Protocol):
    """What a domain that sells one-off items (a drop unit, a license, a custom request) answers."""

    async def completed(self, conn: AsyncConnection, session: CheckoutSessionPayload, now: datetime) -> None: ...

    async def expired(self, conn: AsyncConnection, session: CheckoutSessionPayload, now: datetime) -> None: ...

    async def refunded(self, conn: AsyncConnection, charge: ChargePayload, now: datetime) -> bool:
        """Handle a refund if the charge paid for one of this kind's purchases; True if it did."""
        ...

    async def disputed(self, conn: AsyncConnection, dispute: DisputePayload, now: datetime) -> bool: ...


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
