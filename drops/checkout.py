"""Checkout links for holds, made after the hold is decided, through the paced Stripe gateway.

The hold is the authority, not the Checkout session. Stripe refuses an `expires_at` less than 30 minutes
after creation, so a session lives until `max(hold expiry, now + 31 min)`. When the hold ends first, its unit
is released at the hold's expiry and the session is expired at Stripe when the gateway can
(`expire_checkout_session`); a payment that still arrives is a late payment (see `drops.purchases`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import sqlalchemy as sa
from aiolimiter import AsyncLimiter

from drops.errors import AlreadyPaid, HoldExpired, HoldNotFound
from drops.holds import read_hold
from drops.messages import drop_message
from drops.models import CheckoutLink, DropOptions, HoldStatus
from drops.tables import drop_holds, drops
from storefront.clock import Clock
from storefront.db import Database
from storefront.errors import StripeUnavailable
from storefront.members import find_member
from storefront.money import format_money
from storefront.outbox import OutboxKind, enqueue
from storefront.stripe_gateway import idempotency_key

__all__ = ["CheckoutApi", "CheckoutLinks", "ExpiresCheckoutSessions", "checkout_expiry"]

log = logging.getLogger(__name__)

STRIPE_MIN_LIFETIME = timedelta(minutes=31)  # Stripe's floor is 30 minutes; one more for clock skew
STRIPE_MAX_LIFETIME = timedelta(hours=23)


class CheckoutApi(Protocol):
    """The part of `storefront.stripe_gateway.StripeGateway` a drop needs."""

    async def create_checkout_session(self, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]: ...

    async def create_product(self, params: dict[str, Any], idempotency_key: str) -> str: ...

    async def create_price(self, params: dict[str, Any], idempotency_key: str) -> str: ...


@runtime_checkable
class ExpiresCheckoutSessions(Protocol):
    async def expire_checkout_session(self, session_id: str) -> dict[str, Any]: ...


def checkout_expiry(hold_expires_at: datetime, now: datetime) -> datetime:
    """When the Checkout session of a hold expires at Stripe: the hold's end, but never under Stripe's floor."""
    return min(max(hold_expires_at, now + STRIPE_MIN_LIFETIME), now + STRIPE_MAX_LIFETIME)


class CheckoutLinks:
    def __init__(self, db: Database, clock: Clock, stripe: CheckoutApi | None, options: DropOptions) -> None:
        self._db = db
        self._clock = clock
        self._stripe = stripe
        self._options = options
        self._inflight: dict[str, asyncio.Future[CheckoutLink]] = {}
        self._price_locks: dict[int, asyncio.Lock] = {}
        # Smooth pacing (a burst of one): Stripe counts requests per sliding second, so a bucket that lets a
        # whole second's worth through at once would still be answered 429 at the start of a drop.
        self._pace = AsyncLimiter(1, 1 / options.checkout_links_per_second)

    async def link_for(self, hold_id: str, identity: str | None = None) -> CheckoutLink:
        """The Checkout link of a live hold, made now if it has none yet (concurrent asks share one call)."""
        async with self._db.read() as conn:
            hold = await read_hold(conn, hold_id)
            if (
                identity is not None
                and identity != hold.identity
                and await find_member(conn, identity) != hold.member_id
            ):
                raise HoldNotFound(hold_id)
        now = self._clock.now()
        if hold.status == HoldStatus.SOLD.value:
            raise AlreadyPaid(hold.title)
        if hold.status != HoldStatus.HELD.value or hold.expires_at <= now:
            raise HoldExpired(hold.title, hold.ended_at or hold.expires_at)
        if hold.checkout_url:
            return CheckoutLink(
                hold_id=hold.id,
                url=hold.checkout_url,
                session_id=hold.checkout_session_id,
                hold_expires_at=hold.expires_at,
            )
        pending = self._inflight.get(hold_id)
        if pending is None:
            pending = asyncio.ensure_future(self._create(hold))
            self._inflight[hold_id] = pending
            pending.add_done_callback(lambda _f: self._inflight.pop(hold_id, None))
        return await asyncio.shield(pending)

    async def _create(self, hold: Any) -> CheckoutLink:
        stripe = self._require_stripe()
        price_id = await self._price_for(hold.drop_id)
        now = self._clock.now()
        expires_at = checkout_expiry(hold.expires_at, now)
        metadata = {"kind": "drop", "drop_id": str(hold.drop_id), "hold_id": hold.id, "member": hold.identity}
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [{"price": price_id, "quantity": 1}],
            "client_reference_id": hold.identity,
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "expires_at": int(expires_at.timestamp()),
            "success_url": self._options.success_url,
            "cancel_url": self._options.cancel_url,
        }
        async with self._pace:
            session = await stripe.create_checkout_session(
                params, idempotency_key=idempotency_key(f"drop-checkout-{hold.id}", params)
            )
        async with self._db.write() as conn:
            await conn.execute(
                sa.update(drop_holds)
                .where(drop_holds.c.id == hold.id, drop_holds.c.checkout_session_id.is_(None))
                .values(checkout_session_id=session["id"], checkout_url=session["url"], checkout_expires_at=expires_at)
            )
            stored = await read_hold(conn, hold.id)
        return CheckoutLink(
            hold_id=hold.id,
            url=stored.checkout_url,
            session_id=stored.checkout_session_id,
            hold_expires_at=hold.expires_at,
        )

    def _require_stripe(self) -> CheckoutApi:
        if self._stripe is None:
            raise StripeUnavailable("create checkout session", "Stripe is not configured (set STRIPE_API_KEY)")
        return self._stripe

    async def _price_for(self, drop_id: int) -> str:
        """The drop's one-time Stripe Price, created on first use (product and price, idempotently)."""
        lock = self._price_locks.setdefault(drop_id, asyncio.Lock())
        async with lock:
            async with self._db.read() as conn:
                drop = (await conn.execute(sa.select(drops).where(drops.c.id == drop_id))).one()
            if drop.stripe_price_id:
                return drop.stripe_price_id
            stripe = self._require_stripe()
            product_params = {"name": drop.title, "metadata": {"kind": "drop", "drop_id": str(drop.id)}}
            product_id = drop.stripe_product_id or await stripe.create_product(
                product_params, idempotency_key=idempotency_key(f"drop-product-{drop.id}", product_params)
            )
            price_params = {
                "product": product_id,
                "unit_amount": drop.price_minor,
                "currency": drop.currency,
                "metadata": {"kind": "drop", "drop_id": str(drop.id)},
            }
            price_id = await stripe.create_price(
                price_params, idempotency_key=idempotency_key(f"drop-price-{drop.id}", price_params)
            )
            async with self._db.write() as conn:
                await conn.execute(
                    sa.update(drops)
                    .where(drops.c.id == drop.id)
                    .values(stripe_product_id=product_id, stripe_price_id=price_id)
                )
            return price_id

    async def send_offers(self) -> int:
        """DM everyone offered a unit from the waitlist, with a Checkout link when Stripe can make one."""
        now = self._clock.now()
        async with self._db.read() as conn:
            hold_ids = list(
                await conn.scalars(
                    sa.select(drop_holds.c.id)
                    .where(
                        drop_holds.c.source == "waitlist",
                        drop_holds.c.status == HoldStatus.HELD.value,
                        drop_holds.c.expires_at > now,
                        drop_holds.c.notified_at.is_(None),
                    )
                    .order_by(drop_holds.c.created_at, drop_holds.c.id)
                )
            )
        sent = await asyncio.gather(*(self._send_offer(hold_id) for hold_id in hold_ids))
        return sum(sent)

    async def _send_offer(self, hold_id: str) -> bool:
        url = None
        if self._stripe is not None:
            try:
                url = (await self.link_for(hold_id)).url
            except StripeUnavailable as error:
                log.warning("waitlist offer %s goes without a link: %s", hold_id, error)
            except (HoldExpired, AlreadyPaid):
                return False
        now = self._clock.now()
        async with self._db.write() as conn:
            hold = await read_hold(conn, hold_id)
            if hold.notified_at is not None:
                return False
            await enqueue(
                conn,
                key=f"drop:offer:{hold.id}",
                kind=OutboxKind.NOTIFY,
                payload=drop_message(
                    "drop_offer",
                    drop_id=hold.drop_id,
                    title=hold.title,
                    price=format_money(hold.price_minor, hold.currency),
                    until=hold.expires_at,
                    pay_url=url,
                    hold_id=hold.id,
                ),
                now=now,
                member_id=hold.member_id,
            )
            await conn.execute(sa.update(drop_holds).where(drop_holds.c.id == hold.id).values(notified_at=now))
        return True

    async def close_ended_sessions(self) -> int:
        """Expire at Stripe the still-open Checkout sessions of holds that ended, when the gateway can."""
        if not isinstance(self._stripe, ExpiresCheckoutSessions):
            return 0
        now = self._clock.now()
        async with self._db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(drop_holds.c.id, drop_holds.c.checkout_session_id).where(
                        drop_holds.c.status.in_([HoldStatus.EXPIRED.value, HoldStatus.RELEASED.value]),
                        drop_holds.c.checkout_session_id.is_not(None),
                        drop_holds.c.checkout_closed_at.is_(None),
                        drop_holds.c.checkout_expires_at > now,
                    )
                )
            ).all()
        closed = 0
        for row in rows:
            try:
                await self._stripe.expire_checkout_session(row.checkout_session_id)
            except StripeUnavailable as error:
                log.info("could not expire checkout %s of hold %s: %s", row.checkout_session_id, row.id, error)
                continue
            async with self._db.write() as conn:
                await conn.execute(
                    sa.update(drop_holds).where(drop_holds.c.id == row.id).values(checkout_closed_at=self._clock.now())
                )
            closed += 1
        return closed
