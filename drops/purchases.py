"""Stripe's word on drop purchases (`metadata.kind == "drop"`): completed, expired, refunded, disputed.

Policy for a payment that arrives after its hold ended (a late `checkout.session.completed`): it is honoured
from spare supply when a unit is free at that moment and the drop was not cancelled; otherwise nothing is
oversold: a `refund_needed` issue is recorded for the admins (listed by `DropService.payment_issues`) and the
buyer is told the payment will be refunded. Every handler is idempotent (a sale per hold id, issues by key).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from drops.holds import end_holds
from drops.lifecycle import record_payment_issue, record_sale
from drops.messages import drop_message
from drops.models import DropOptions, DropPhase, HoldStatus
from drops.supply import derive_phase, lock_drop, unit_counts
from drops.tables import drop_holds, drop_payment_issues, drop_sales
from drops.waitlist import offer_free_units
from storefront.money import format_money
from storefront.one_off_checkout import paid_by
from storefront.outbox import OutboxKind, enqueue
from storefront.stripe_gateway import StripeGateway
from webhooks.stripe_payloads import ChargePayload, CheckoutSessionPayload, DisputePayload

__all__ = ["DropPurchases"]

log = logging.getLogger(__name__)

_PAID = ("paid", "no_payment_required")


class DropPurchases:
    """The `PurchaseKind` for drops: `app.purchases.register("drop", DropPurchases(...))`."""

    def __init__(
        self,
        options: DropOptions,
        *,
        stripe: StripeGateway | None = None,
        units_freed: Callable[[int], None] = lambda _drop_id: None,
    ) -> None:
        self._options = options
        self._stripe = stripe
        self._units_freed = units_freed

    async def completed(self, conn: AsyncConnection, session: CheckoutSessionPayload, now: datetime) -> None:
        hold_id = session.metadata.get("hold_id", "")
        hold = (await conn.execute(sa.select(drop_holds).where(drop_holds.c.id == hold_id))).first()
        if hold is None:
            log.warning("drop checkout %s names no known hold (%r)", session.id, hold_id)
            await self._refund_needed(conn, session, None, None, "paid for a reservation this store does not know", now)
            return
        drop = await lock_drop(conn, hold.drop_id)
        sale = (await conn.execute(sa.select(drop_sales).where(drop_sales.c.hold_id == hold.id))).first()
        if sale is not None:
            if sale.checkout_session_id != session.id:
                await self._refund_needed(conn, session, drop, hold, "paid twice for the same reservation", now)
            return
        if session.payment_status not in _PAID:
            log.info(
                "drop checkout %s completed with payment %s; waiting for the money", session.id, session.payment_status
            )
            return
        sale_args = {
            "checkout_session_id": session.id,
            "payment_intent": session.payment_intent,
            "amount_minor": session.amount_total,
            "currency": session.currency,
            "now": now,
        }
        if hold.status == HoldStatus.HELD.value and hold.expires_at > now:
            await record_sale(conn, drop, hold, late=False, **sale_args)
            return
        # Late: the hold had ended. Its unit no longer counts, so `available` says whether one is spare now.
        await end_holds(conn, [hold.id], HoldStatus.EXPIRED, "hold_expired", now)
        counts = await unit_counts(conn, drop, now)
        if derive_phase(drop, None, now) is not DropPhase.CANCELLED and counts.available > 0:
            await record_sale(conn, drop, hold, late=True, **sale_args)
            return
        await self._refund_needed(conn, session, drop, hold, "paid after the hold ended and no unit was left", now)

    async def _refund_needed(
        self,
        conn: AsyncConnection,
        session: CheckoutSessionPayload,
        drop: Any,
        hold: Any,
        reason: str,
        now: datetime,
    ) -> None:
        new = await record_payment_issue(
            conn,
            key=f"refund_needed:{session.id}",
            kind="refund_needed",
            reason=reason,
            now=now,
            drop_id=drop.id if drop is not None else None,
            member_id=hold.member_id if hold is not None else None,
            identity=hold.identity if hold is not None else session.client_reference_id,
            hold_id=hold.id if hold is not None else None,
            checkout_session_id=session.id,
            payment_intent=session.payment_intent,
            amount_minor=session.amount_total,
            currency=session.currency,
        )
        if new and drop is not None and hold is not None:
            await enqueue(
                conn,
                key=f"drop:refund_needed:{session.id}",
                kind=OutboxKind.NOTIFY,
                payload=drop_message(
                    "drop_refund_needed",
                    drop_id=drop.id,
                    title=drop.title,
                    price=format_money(drop.price_minor, drop.currency),
                    hold_id=hold.id,
                ),
                now=now,
                member_id=hold.member_id,
            )

    async def expired(self, conn: AsyncConnection, session: CheckoutSessionPayload, now: datetime) -> None:
        hold_id = session.metadata.get("hold_id", "")
        hold = (await conn.execute(sa.select(drop_holds).where(drop_holds.c.id == hold_id))).first()
        if hold is None or (hold.checkout_session_id not in (None, session.id)):
            return  # not ours, or a duplicate session that never held the unit
        drop = await lock_drop(conn, hold.drop_id)
        if await end_holds(conn, [hold.id], HoldStatus.RELEASED, "checkout_expired", now):
            await self._offer_freed_units(conn, drop, now)

    async def _offer_freed_units(self, conn: AsyncConnection, drop: Any, now: datetime) -> None:
        counts = await unit_counts(conn, drop, now)
        await offer_free_units(conn, drop, counts, now, self._options.waitlist_hold)
        self._units_freed(drop.id)

    async def refunded(self, conn: AsyncConnection, charge: ChargePayload, now: datetime) -> bool:
        if not charge.payment_intent:
            return False
        sale = await paid_by(conn, drop_sales, charge.payment_intent)
        if sale is None:
            return await self._resolve_issues_of(conn, charge.payment_intent, now)
        fully = charge.refunded or charge.amount_refunded >= charge.amount
        drop = await lock_drop(conn, sale.drop_id)
        values: dict[str, Any] = {"amount_refunded": charge.amount_refunded}
        if fully and sale.status != "refunded":
            values.update(status="refunded", refunded_at=now, takes_unit=not self._options.restock_on_refund)
            await enqueue(
                conn,
                key=f"drop:refunded:{sale.hold_id}",
                kind=OutboxKind.NOTIFY,
                payload=drop_message(
                    "drop_refunded",
                    drop_id=drop.id,
                    title=drop.title,
                    price=format_money(sale.amount_minor, sale.currency),
                    hold_id=sale.hold_id,
                ),
                now=now,
                member_id=sale.member_id,
            )
        await conn.execute(sa.update(drop_sales).where(drop_sales.c.id == sale.id).values(**values))
        if values.get("takes_unit") is False:
            await self._offer_freed_units(conn, drop, now)
        return True

    async def _resolve_issues_of(self, conn: AsyncConnection, payment_intent: str, now: datetime) -> bool:
        """An admin refunded a payment we had flagged: the issue is settled (and it was a drop payment)."""
        result = await conn.execute(
            sa.update(drop_payment_issues)
            .where(
                drop_payment_issues.c.payment_intent == payment_intent,
                drop_payment_issues.c.kind == "refund_needed",
            )
            .values(resolved_at=sa.func.coalesce(drop_payment_issues.c.resolved_at, now))
        )
        return result.rowcount > 0

    async def disputed(self, conn: AsyncConnection, dispute: DisputePayload, now: datetime) -> bool:
        # The dispute handler fills in the payment intent from the charge when Stripe left it out.
        payment_intent = dispute.payment_intent
        if payment_intent is None:
            return False
        sale = await paid_by(conn, drop_sales, payment_intent)
        flagged = await paid_by(conn, drop_payment_issues, payment_intent)
        if sale is None and flagged is None:
            return False
        source = sale if sale is not None else flagged
        await record_payment_issue(
            conn,
            key=f"dispute:{dispute.id}",
            kind="dispute",
            reason=f"dispute opened ({dispute.reason or 'no reason given'})",
            now=now,
            drop_id=source.drop_id,
            member_id=source.member_id,
            identity=source.identity,
            hold_id=source.hold_id,
            checkout_session_id=source.checkout_session_id,
            payment_intent=payment_intent,
            amount_minor=dispute.amount,
            currency=sale.currency if sale is not None else flagged.currency,
        )
        if sale is not None and sale.status == "paid":
            await conn.execute(sa.update(drop_sales).where(drop_sales.c.id == sale.id).values(status="disputed"))
        return True
