"""One paid custom request over the monthly quota: a Stripe Checkout (mode=payment), and Stripe's word on it.

`RequestService.submit` writes the request (status `awaiting_payment`) and its pending payment row first; the
Checkout is then created here with the idempotency key `request:<id>` and `metadata.kind == "request"`. Only
`checkout.session.completed` puts the request in the queue (its due time counted from the payment);
`checkout.session.expired` closes it quietly; a full refund or a dispute declines it if still open and revokes
the licenses its delivery granted. This is the `PurchaseKind` for requests: `app.purchases.register("request",
payments)`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from entitlements import payment_reversals
from entitlements.payment_reversals import ReversedOnRefundOrDispute
from entitlements.request_files import revoke_delivery_licenses
from entitlements.request_tables import custom_requests, request_payments
from entitlements.requests import (
    OPEN_STATUSES,
    UNPAID_STATUSES,
    CustomRequest,
    RequestQuotaUsed,
    RequestStatus,
    load_request,
    notify_member,
    turnaround_of,
)
from storefront.catalog import Catalog, Tier
from storefront.clock import Clock
from storefront.db import Database
from storefront.errors import StorefrontError
from storefront.one_off_checkout import checkout_lifetime, payment_checkout_params
from storefront.outbox import OutboxKind, enqueue
from storefront.stripe_gateway import StripeGateway, idempotency_key
from webhooks.stripe_payloads import CheckoutSessionPayload

__all__ = ["ExtraRequestCheckout", "ExtraRequestCheckoutFailed", "PaymentStatus", "RequestPayments"]

log = logging.getLogger(__name__)

_PAID = ("paid", "no_payment_required")


class PaymentStatus:
    PENDING = "pending"
    PAID = "paid"
    EXPIRED = "expired"
    FAILED = "failed"
    REFUNDED = payment_reversals.REFUNDED
    DISPUTED = payment_reversals.DISPUTED


class ExtraRequestCheckoutFailed(RequestQuotaUsed):
    """Over quota, and Stripe could not open the payment page for an extra request; the request is closed."""

    def __init__(self, quota: int, resets_at: datetime) -> None:
        super().__init__(
            quota,
            resets_at,
            " The payment page for an extra request could not be opened (Stripe is not answering); "
            "please try again in a minute.",
        )


@dataclass(frozen=True)
class ExtraRequestCheckout:
    request_id: int
    url: str
    amount_minor: int
    currency: str
    pay_before: datetime


class RequestPayments(ReversedOnRefundOrDispute):
    _paid_rows = request_payments

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        catalog: Catalog,
        stripe: StripeGateway | None,
        public_base_url: str,
        checkout_minutes: int = 60,
    ) -> None:
        self._db = db
        self._clock = clock
        self._catalog = catalog
        self._stripe = stripe
        self._base = public_base_url.rstrip("/")
        self._checkout_lifetime = checkout_lifetime(checkout_minutes)

    def sells(self, tier: Tier) -> bool:
        """Whether a member of `tier` over quota is offered a paid extra request (a price, and Stripe set up)."""
        return self._stripe is not None and tier.grants.extra_request_price is not None

    # Selling ----------------------------------------------------------------------------------------------

    async def open_checkout_of(
        self, conn: AsyncConnection, member_id: int, now: datetime
    ) -> ExtraRequestCheckout | None:
        """The member's extra request still waiting for payment, if its Checkout has a while to live."""
        row = (
            await conn.execute(
                sa.select(request_payments)
                .join(custom_requests, custom_requests.c.id == request_payments.c.request_id)
                .where(
                    custom_requests.c.member_id == member_id,
                    custom_requests.c.status == RequestStatus.AWAITING_PAYMENT.value,
                    request_payments.c.status == PaymentStatus.PENDING,
                    request_payments.c.checkout_url.is_not(None),
                    request_payments.c.pay_before > now + timedelta(minutes=5),
                )
                .order_by(request_payments.c.request_id.desc())
                .limit(1)
            )
        ).first()
        return _checkout(row) if row is not None else None

    async def record_pending(self, conn: AsyncConnection, request: CustomRequest, tier: Tier, now: datetime) -> None:
        """The payment row of a new extra request, written with it (before Stripe is asked)."""
        assert tier.grants.extra_request_price is not None
        await conn.execute(
            sa.insert(request_payments).values(
                request_id=request.id,
                status=PaymentStatus.PENDING,
                amount_minor=tier.grants.extra_request_price,
                currency=tier.currency,
                pay_before=now + self._checkout_lifetime,
                created_at=now,
                updated_at=now,
            )
        )

    async def create_checkout(
        self, request: CustomRequest, tier: Tier, *, quota: int, resets_at: datetime
    ) -> ExtraRequestCheckout:
        """Stripe's Checkout for a pending extra request; on failure the request is closed and
        ExtraRequestCheckoutFailed says so."""
        async with self._db.read() as conn:
            payment = (
                await conn.execute(sa.select(request_payments).where(request_payments.c.request_id == request.id))
            ).one()
        try:
            if self._stripe is None:
                raise StorefrontError("Stripe is not configured")
            product_id, price_id = await self._price_for(tier, payment.amount_minor, payment.currency)
            params = self._session_params(request, price_id, payment.pay_before)
            session = await self._stripe.create_checkout_session(params, idempotency_key=f"request:{request.id}")
        except StorefrontError as error:
            log.warning("extra request %s: no Checkout: %s", request.id, error)
            async with self._db.write() as conn:
                await self._close_unpaid(
                    conn, request.id, PaymentStatus.FAILED, RequestStatus.PAYMENT_FAILED, self._clock.now()
                )
            raise ExtraRequestCheckoutFailed(quota, resets_at) from None
        async with self._db.write() as conn:
            await self._set(
                conn,
                request.id,
                stripe_product_id=product_id,
                stripe_price_id=price_id,
                checkout_session_id=session["id"],
                checkout_url=session.get("url"),
                updated_at=self._clock.now(),
            )
        return ExtraRequestCheckout(
            request.id, session.get("url") or "", payment.amount_minor, payment.currency, payment.pay_before
        )

    async def _price_for(self, tier: Tier, amount: int, currency: str) -> tuple[str, str]:
        """The one-time Stripe Price of an extra request of `tier`: the one used before, or a new one."""
        assert self._stripe is not None
        async with self._db.read() as conn:
            used = (
                await conn.execute(
                    sa.select(request_payments.c.stripe_product_id, request_payments.c.stripe_price_id)
                    .join(custom_requests, custom_requests.c.id == request_payments.c.request_id)
                    .where(
                        custom_requests.c.tier == tier.key,
                        request_payments.c.amount_minor == amount,
                        request_payments.c.currency == currency,
                        request_payments.c.stripe_price_id.is_not(None),
                    )
                    .order_by(request_payments.c.request_id.desc())
                    .limit(1)
                )
            ).first()
        if used is not None:
            return used.stripe_product_id, used.stripe_price_id
        product = {"name": f"Extra custom request ({tier.name})", "metadata": {"kind": "request", "tier": tier.key}}
        product_id = await self._stripe.create_product(
            product, idempotency_key=idempotency_key(f"request-product-{tier.key}", product)
        )
        price = {
            "product": product_id,
            "unit_amount": amount,
            "currency": currency,
            "metadata": {"kind": "request", "tier": tier.key},
        }
        price_id = await self._stripe.create_price(
            price, idempotency_key=idempotency_key(f"request-price-{tier.key}", price)
        )
        return product_id, price_id

    def _session_params(self, request: CustomRequest, price_id: str, pay_before: datetime) -> dict[str, Any]:
        return payment_checkout_params(
            "request",
            {"request": str(request.id), "member": request.identity},
            line_item={"price": price_id, "quantity": 1},
            identity=request.identity,
            expires_at=pay_before,
            public_base_url=self._base,
        )

    @staticmethod
    async def _set(conn: AsyncConnection, request_id: int, **values: Any) -> None:
        await conn.execute(
            sa.update(request_payments).where(request_payments.c.request_id == request_id).values(**values)
        )

    async def _close_unpaid(
        self, conn: AsyncConnection, request_id: int, payment_status: str, request_status: RequestStatus, now: datetime
    ) -> None:
        """No payment will come: the payment row says why, and the request, if still waiting for it, is closed."""
        await self._set(conn, request_id, status=payment_status, updated_at=now)
        await conn.execute(
            sa.update(custom_requests)
            .where(
                custom_requests.c.id == request_id,
                custom_requests.c.status == RequestStatus.AWAITING_PAYMENT.value,
            )
            .values(status=request_status.value, updated_at=now)
        )

    # PurchaseKind -----------------------------------------------------------------------------------------

    async def _payment_of_session(self, conn: AsyncConnection, session: CheckoutSessionPayload) -> Any:
        request_id = session.metadata.get("request", "")
        query = sa.select(request_payments)
        if request_id.isdigit():
            query = query.where(request_payments.c.request_id == int(request_id))
        else:
            query = query.where(request_payments.c.checkout_session_id == session.id)
        return (await conn.execute(query)).first()

    async def completed(self, conn: AsyncConnection, session: CheckoutSessionPayload, now: datetime) -> None:
        payment = await self._payment_of_session(conn, session)
        if payment is None:
            log.warning("request checkout %s names no known request", session.id)
            return
        if payment.paid_at is not None:
            return  # a duplicate delivery of the event
        if session.payment_status not in _PAID:
            log.info("request checkout %s completed with payment %s; waiting", session.id, session.payment_status)
            return
        await self._set(
            conn,
            payment.request_id,
            status=PaymentStatus.PAID,
            checkout_session_id=session.id,
            payment_intent=session.payment_intent,
            amount_minor=session.amount_total if session.amount_total is not None else payment.amount_minor,
            currency=session.currency or payment.currency,
            paid_at=now,
            updated_at=now,
        )
        request = await load_request(conn, payment.request_id)
        if request.status not in UNPAID_STATUSES:
            return
        due_at = now + turnaround_of(self._catalog.tiers.get(request.tier))
        await conn.execute(
            sa.update(custom_requests)
            .where(custom_requests.c.id == request.id, custom_requests.c.status == request.status.value)
            .values(status=RequestStatus.SUBMITTED.value, due_at=due_at, updated_at=now)
        )
        await notify_member(conn, await load_request(conn, request.id), now)

    async def expired(self, conn: AsyncConnection, session: CheckoutSessionPayload, now: datetime) -> None:
        payment = await self._payment_of_session(conn, session)
        if payment is None or payment.status != PaymentStatus.PENDING:
            return
        await self._close_unpaid(conn, payment.request_id, PaymentStatus.EXPIRED, RequestStatus.PAYMENT_EXPIRED, now)

    async def _reverse(self, conn: AsyncConnection, payment: Any, status: str, now: datetime) -> None:
        """Money taken back: decline the request if still open, revoke what its delivery licensed."""
        if payment.closed_at is not None:
            return
        await self._set(conn, payment.request_id, status=status, closed_at=now, updated_at=now)
        request = await load_request(conn, payment.request_id)
        if request.status in OPEN_STATUSES:
            await conn.execute(
                sa.update(custom_requests)
                .where(custom_requests.c.id == request.id, custom_requests.c.status == request.status.value)
                .values(
                    status=RequestStatus.DECLINED.value,
                    decline_reason=f"payment {status}",
                    handled_by="stripe",
                    updated_at=now,
                )
            )
            await notify_member(conn, await load_request(conn, request.id), now)
        revoked = await revoke_delivery_licenses(conn, request.id, status, now)
        if revoked:
            await enqueue(
                conn,
                key=f"request:{request.id}:licenses_{status}",
                kind=OutboxKind.NOTIFY,
                payload={
                    "template": "request_licenses_revoked",
                    "text": f"The payment for your custom request #{request.id} was {status}, so the commercial "
                    f"licenses for its {revoked} delivered file{'s' if revoked != 1 else ''} were revoked. "
                    "Certificates issued under them no longer verify.",
                    "buttons": [],
                },
                now=now,
                member_id=request.member_id,
            )


def _checkout(row: Any) -> ExtraRequestCheckout:
    return ExtraRequestCheckout(row.request_id, row.checkout_url, row.amount_minor, row.currency, row.pay_before)
