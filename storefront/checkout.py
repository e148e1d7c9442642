"""Stripe Checkout for a membership tier, and the Billing Portal where members manage it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from entitlements.membership import GRANTING_STATUSES, MembershipStatus
from storefront.catalog import Catalog, Interval, Tier
from storefront.clock import Clock, utc_from_timestamp
from storefront.db import Database, insert_ignore
from storefront.db.chat_tables import checkout_sessions
from storefront.db.tables import members, subscriptions
from storefront.errors import StorefrontError
from storefront.members import ensure_member, find_member, identities_of, parse_identity
from storefront.stripe_gateway import StripeGateway

__all__ = [
    "AlreadySubscribed",
    "CheckoutLink",
    "CheckoutService",
    "NoAnnualPrice",
    "NoBillingAccount",
    "PaymentsNotConfigured",
    "TierNotForSale",
]

# A member with one of these already pays (or paused paying) for a tier: changes go through the portal.
_RUNNING = sorted({*(status.value for status in GRANTING_STATUSES), MembershipStatus.PAUSED.value})
# Repeating /subscribe within this window returns the same Checkout Session (Stripe replays the idempotent call).
_SAME_SESSION_SECONDS = 600


class PaymentsNotConfigured(StorefrontError):
    def __init__(self) -> None:
        super().__init__("Payments are not set up yet; please ask the team to connect Stripe.")


class NoAnnualPrice(StorefrontError):
    def __init__(self, tier: Tier) -> None:
        self.tier = tier.key
        super().__init__(f"{tier.name} is only sold monthly; leave out 'annual'.")


class TierNotForSale(StorefrontError):
    def __init__(self, tier: Tier) -> None:
        self.tier = tier.key
        super().__init__(f"{tier.name} is not on sale yet (no Stripe price); please try again later.")


class AlreadySubscribed(StorefrontError):
    def __init__(self, tier_name: str, status: str) -> None:
        self.tier_name = tier_name
        self.status = status
        super().__init__(
            f"You already have {tier_name} ({status}); use /manage to switch tier, change billing or cancel."
        )


class NoBillingAccount(StorefrontError):
    def __init__(self, identity: str) -> None:
        self.identity = identity
        super().__init__("You have no billing account yet: subscribe first with /subscribe.")


@dataclass(frozen=True)
class CheckoutLink:
    url: str
    session_id: str
    tier: Tier
    interval: Interval
    amount_minor: int
    currency: str
    trial_days: int
    trial_already_used: bool


async def stripe_customers_of(conn: AsyncConnection, member_id: int) -> list[str]:
    """The member's Stripe customer ids, the one on their latest subscription first."""
    latest = await conn.scalar(
        sa.select(subscriptions.c.customer_id)
        .where(subscriptions.c.member_id == member_id, subscriptions.c.customer_id.is_not(None))
        .order_by(subscriptions.c.updated_at.desc())
        .limit(1)
    )
    known = [identity.removeprefix("stripe:") for identity in await identities_of(conn, member_id)]
    customers = [c for c in known if c.startswith("cus_")]
    return sorted(customers, key=lambda customer: customer != latest)


class CheckoutService:
    """Creates Checkout and Portal sessions for members; the money itself only ever moves on Stripe."""

    def __init__(
        self, db: Database, clock: Clock, catalog: Catalog, stripe: StripeGateway | None, public_base_url: str
    ) -> None:
        self._db = db
        self._clock = clock
        self._catalog = catalog
        self._stripe = stripe
        self._base = public_base_url.rstrip("/")

    def _gateway(self) -> StripeGateway:
        if self._stripe is None:
            raise PaymentsNotConfigured()
        return self._stripe

    async def subscribe(self, identity: str, tier_key: str, interval: Interval = "month") -> CheckoutLink:
        """A Checkout link for `tier_key`, tied to `identity`; the free trial only for a first-timer."""
        identity = parse_identity(identity)
        tier = self._catalog.tier(tier_key)
        price_id = tier.price_id(interval)
        if interval == "year" and tier.annual_price is None:
            raise NoAnnualPrice(tier)
        if price_id is None:
            raise TierNotForSale(tier)
        gateway = self._gateway()
        now = self._clock.now()
        async with self._db.write() as conn:
            member_id = await ensure_member(conn, identity, now)
            await self._refuse_second_subscription(conn, member_id)
            trial_used = await conn.scalar(sa.select(members.c.trial_used_at).where(members.c.id == member_id))
            customers = await stripe_customers_of(conn, member_id)
        trial_days = tier.trial_days if trial_used is None else 0
        params = self._session_params(identity, tier, price_id, interval, trial_days, customers[:1])
        bucket = int(now.timestamp()) // _SAME_SESSION_SECONDS
        fingerprint = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:24]
        key = f"subscribe:{identity}:{bucket}:{fingerprint}"
        session = await gateway.create_checkout_session(params, idempotency_key=key)
        async with self._db.write() as conn:
            await insert_ignore(
                conn,
                checkout_sessions,
                {
                    "id": session["id"],
                    "member_id": member_id,
                    "identity": identity,
                    "tier": tier.key,
                    "interval": interval,
                    "trial_days": trial_days,
                    "url": session.get("url"),
                    "created_at": now,
                    "expires_at": utc_from_timestamp(session["expires_at"]) if session.get("expires_at") else None,
                },
                ["id"],
            )
        amount = tier.amount(interval)
        assert amount is not None
        return CheckoutLink(
            url=session["url"],
            session_id=session["id"],
            tier=tier,
            interval=interval,
            amount_minor=amount,
            currency=tier.currency,
            trial_days=trial_days,
            trial_already_used=trial_used is not None and tier.trial_days > 0,
        )

    async def _refuse_second_subscription(self, conn: AsyncConnection, member_id: int) -> None:
        row = (
            await conn.execute(
                sa.select(subscriptions.c.tier, subscriptions.c.status)
                .where(
                    subscriptions.c.member_id == member_id,
                    subscriptions.c.status.in_(_RUNNING),
                )
                .limit(1)
            )
        ).first()
        if row is not None:
            tier = self._catalog.tiers.get(row.tier) if row.tier else None
            raise AlreadySubscribed(tier.name if tier else "a membership", row.status.replace("_", " "))

    def _session_params(
        self, identity: str, tier: Tier, price_id: str, interval: Interval, trial_days: int, customer: list[str]
    ) -> dict[str, Any]:
        subscription_data: dict[str, Any] = {"metadata": {"member": identity, "tier": tier.key}}
        if trial_days > 0:
            subscription_data["trial_period_days"] = trial_days
        params: dict[str, Any] = {
            "mode": "subscription",
            "line_items": [{"price": price_id, "quantity": 1}],
            "client_reference_id": identity,
            "metadata": {"member": identity, "tier": tier.key, "interval": interval},
            "subscription_data": subscription_data,
            "allow_promotion_codes": True,
            "success_url": f"{self._base}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}",
            "cancel_url": f"{self._base}/checkout/cancel",
        }
        if customer:
            params["customer"] = customer[0]
        return params

    async def portal(self, identity: str) -> str:
        """A Billing Portal link for the member's Stripe customer (change card, switch tier, pause, cancel)."""
        identity = parse_identity(identity)
        gateway = self._gateway()
        async with self._db.read() as conn:
            member_id = await find_member(conn, identity)
            customers = await stripe_customers_of(conn, member_id) if member_id is not None else []
        if not customers:
            raise NoBillingAccount(identity)
        return await gateway.create_portal_session(customers[0], return_url=f"{self._base}/")

    async def portal_for_member(self, member_id: int) -> str | None:
        """A Billing Portal link for a member (for buttons in messages); None when they have no customer yet."""
        if self._stripe is None:
            return None
        async with self._db.read() as conn:
            customers = await stripe_customers_of(conn, member_id)
        if not customers:
            return None
        return await self._stripe.create_portal_session(customers[0], return_url=f"{self._base}/")

    async def recorded_sessions(self, identity: str) -> list[dict[str, Any]]:
        """Checkout sessions created for this person's member, newest first."""
        async with self._db.read() as conn:
            member_id = await find_member(conn, parse_identity(identity))
            if member_id is None:
                return []
            rows = await conn.execute(
                sa.select(checkout_sessions)
                .where(checkout_sessions.c.member_id == member_id)
                .order_by(checkout_sessions.c.created_at.desc(), checkout_sessions.c.id)
            )
            return [row._asdict() for row in rows]
