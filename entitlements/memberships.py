"""Apply Stripe's observations to members: derive each subscription's state, then the member's access."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from entitlements.comps import active_comp_tiers, end_due_comps
from entitlements.membership import (
    Membership,
    MembershipStatus,
    Observation,
    ObservationKind,
    derive_membership,
)
from entitlements.messages import member_message
from storefront.catalog import Catalog, Tier
from storefront.db import insert_ignore
from storefront.db.tables import billing_events, members, subscriptions
from storefront.errors import StorefrontError
from storefront.members import (
    InvalidIdentity,
    attach_identity,
    ensure_member,
    find_member,
    parse_identity,
    stripe_customer_identity,
)
from storefront.outbox import OutboxKind, enqueue

__all__ = ["AccessChange", "MembershipService", "Observed", "UnattributablePayment"]


class UnattributablePayment(StorefrontError):
    def __init__(self, subscription_id: str) -> None:
        self.subscription_id = subscription_id
        super().__init__(f"subscription {subscription_id} names no member identity and no Stripe customer")


@dataclass(frozen=True)
class AccessChange:
    member_id: int
    from_tier: str | None
    to_tier: str | None
    seq: int


def _grants(tier: Tier | None) -> dict[str, list[int]]:
    if tier is None:
        return {"discord_role_ids": [], "telegram_chat_ids": []}
    return {
        "discord_role_ids": [tier.grants.discord_role_id] if tier.grants.discord_role_id else [],
        "telegram_chat_ids": [tier.grants.telegram_chat_id] if tier.grants.telegram_chat_id else [],
    }


def _difference(a: dict[str, list[int]], b: dict[str, list[int]]) -> dict[str, list[int]]:
    return {key: sorted(set(a[key]) - set(b[key])) for key in a}


@dataclass(frozen=True)
class Observed:
    member_id: int
    change: AccessChange | None


AccessListener = Callable[[AsyncConnection, AccessChange, datetime], Awaitable[None]]


class MembershipService:
    def __init__(self, catalog: Catalog, grace: timedelta) -> None:
        self.catalog = catalog
        self.grace = grace
        # Called inside the transaction of every access change (e.g. a new member gets this month's pack).
        self.access_listeners: list[AccessListener] = []

    async def record(
        self,
        conn: AsyncConnection,
        *,
        member_id: int,
        subscription_id: str,
        observation: Observation,
        event_type: str,
        customer_id: str | None = None,
    ) -> bool:
        """Store one observation (once per event id) and make sure the subscription row exists."""
        await insert_ignore(
            conn,
            subscriptions,
            {
                "id": subscription_id,
                "member_id": member_id,
                "customer_id": customer_id,
                "status": MembershipStatus.INCOMPLETE.value,
                "updated_at": observation.created,
            },
            ["id"],
        )
        return await insert_ignore(
            conn,
            billing_events,
            {
                "event_id": observation.event_id,
                "subscription_id": subscription_id,
                "member_id": member_id,
                "type": event_type,
                "kind": observation.kind.value,
                "created": observation.created,
                "data": dict(observation.data),
            },
            ["event_id"],
        )

    async def observe(
        self,
        conn: AsyncConnection,
        *,
        subscription_id: str,
        identity: str | None,
        customer_id: str | None,
        observation: Observation,
        event_type: str,
        now: datetime,
    ) -> Observed:
        """Record what Stripe said about a subscription and bring the member's access in line."""
        member_id = await self.resolve_member(
            conn, subscription_id=subscription_id, identity=identity, customer_id=customer_id, now=now
        )
        await self.record(
            conn,
            member_id=member_id,
            subscription_id=subscription_id,
            observation=observation,
            event_type=event_type,
            customer_id=customer_id,
        )
        if observation.data.get("trial_end"):
            await conn.execute(
                sa.update(members)
                .where(members.c.id == member_id, members.c.trial_used_at.is_(None))
                .values(trial_used_at=now)
            )
        change = await self.refresh_member(conn, member_id, now)
        return Observed(member_id, change)

    async def resolve_member(
        self,
        conn: AsyncConnection,
        *,
        subscription_id: str | None,
        identity: str | None,
        customer_id: str | None,
        now: datetime,
    ) -> int:
        """Whose subscription this is: the member already holding it, else the identity, else the customer.

        A payment from someone who never talked to the bot creates the member rather than being dropped.
        """
        member_id = await self.member_of_subscription(conn, subscription_id) if subscription_id else None
        if member_id is None and identity:
            try:
                member_id = await ensure_member(conn, parse_identity(identity), now)
            except InvalidIdentity:
                member_id = None
        if member_id is None and customer_id:
            member_id = await find_member(conn, stripe_customer_identity(customer_id))
            if member_id is None:
                member_id = await ensure_member(conn, stripe_customer_identity(customer_id), now)
        if member_id is None:
            raise UnattributablePayment(subscription_id or "(none)")
        if customer_id:
            await attach_identity(conn, member_id, stripe_customer_identity(customer_id), now)
        return member_id

    async def link_subscription(
        self, conn: AsyncConnection, *, member_id: int, subscription_id: str, customer_id: str | None, now: datetime
    ) -> None:
        """Tie a subscription to a member before any state about it is known (from a completed Checkout)."""
        await insert_ignore(
            conn,
            subscriptions,
            {
                "id": subscription_id,
                "member_id": member_id,
                "customer_id": customer_id,
                "status": MembershipStatus.INCOMPLETE.value,
                "updated_at": now,
            },
            ["id"],
        )

    async def revoke_customer_memberships(
        self, conn: AsyncConnection, *, customer_id: str, reason: str, event_id: str, created: datetime, now: datetime
    ) -> int | None:
        """End the access paid by a refunded or disputed membership charge; the member id, or None if unknown."""
        member_id = await find_member(conn, stripe_customer_identity(customer_id))
        if member_id is None:
            return None
        sub_ids = list(
            await conn.scalars(
                sa.select(subscriptions.c.id).where(
                    subscriptions.c.member_id == member_id, subscriptions.c.customer_id == customer_id
                )
            )
        )
        for sub_id in sub_ids:
            observation = Observation(f"{event_id}:{sub_id}", ObservationKind.REVOKED, created, {"reason": reason})
            await self.record(
                conn, member_id=member_id, subscription_id=sub_id, observation=observation, event_type=reason
            )
        await self.refresh_member(conn, member_id, now)
        return member_id

    async def member_of_subscription(self, conn: AsyncConnection, subscription_id: str) -> int | None:
        return await conn.scalar(sa.select(subscriptions.c.member_id).where(subscriptions.c.id == subscription_id))

    async def derive(self, conn: AsyncConnection, subscription_id: str, now: datetime) -> Membership:
        rows = await conn.execute(
            sa.select(
                billing_events.c.event_id, billing_events.c.kind, billing_events.c.created, billing_events.c.data
            ).where(billing_events.c.subscription_id == subscription_id)
        )
        observations = [Observation(r.event_id, ObservationKind(r.kind), r.created, r.data) for r in rows]
        return derive_membership(observations, now=now, grace=self.grace)

    async def refresh_member(self, conn: AsyncConnection, member_id: int, now: datetime) -> AccessChange | None:
        """Re-derive every subscription of the member; if the access it adds up to changed, queue the change."""
        best: Tier | None = None
        sub_ids = list(await conn.scalars(sa.select(subscriptions.c.id).where(subscriptions.c.member_id == member_id)))
        for sub_id in sub_ids:
            membership = await self.derive(conn, sub_id, now)
            tier = self.catalog.tier_for_price(membership.price_id)
            await conn.execute(
                sa.update(subscriptions).where(subscriptions.c.id == sub_id).values(**_row(membership, tier, now))
            )
            if membership.grants_access and tier and self.catalog.rank(tier.key) > self.catalog.rank(best and best.key):
                best = tier
        for comp_tier in await active_comp_tiers(conn, member_id, now):  # a comp grants without faking a payment
            tier = self.catalog.tiers.get(comp_tier)
            if tier and self.catalog.rank(tier.key) > self.catalog.rank(best and best.key):
                best = tier
        return await self._apply_access(conn, member_id, best, now)

    async def _apply_access(
        self, conn: AsyncConnection, member_id: int, desired: Tier | None, now: datetime
    ) -> AccessChange | None:
        member = (
            await conn.execute(sa.select(members.c.granted_tier, members.c.access_seq).where(members.c.id == member_id))
        ).one()
        desired_key = desired.key if desired else None
        if member.granted_tier == desired_key:
            return None
        seq = member.access_seq + 1
        await conn.execute(
            sa.update(members).where(members.c.id == member_id).values(granted_tier=desired_key, access_seq=seq)
        )
        previous = self.catalog.tiers.get(member.granted_tier) if member.granted_tier else None
        before, after = _grants(previous), _grants(desired)
        payload: dict[str, Any] = {
            "from_tier": member.granted_tier,
            "to_tier": desired_key,
            "grant": _difference(after, before),
            "revoke": _difference(before, after),
        }
        await enqueue(
            conn,
            key=f"access:{member_id}:{seq}",
            kind=OutboxKind.ACCESS,
            payload=payload,
            now=now,
            member_id=member_id,
        )
        if member.granted_tier is None or desired_key is None:
            template = "welcome" if desired_key else "access_ended"
            tier = desired or previous
            await enqueue(
                conn,
                key=f"notify:{template}:{member_id}:{seq}",
                kind=OutboxKind.NOTIFY,
                payload=member_message(template, tier_name=tier.name if tier else "membership"),
                now=now,
                member_id=member_id,
            )
        change = AccessChange(member_id, member.granted_tier, desired_key, seq)
        for listener in self.access_listeners:
            await listener(conn, change, now)
        return change

    async def expire_due(self, conn: AsyncConnection, now: datetime) -> list[AccessChange]:
        """Members whose grace period, paid-up period or comp ran out by `now` lose the access it gave."""
        due = await conn.scalars(
            sa.select(subscriptions.c.member_id)
            .where(
                subscriptions.c.status.in_([MembershipStatus.PAST_DUE.value, MembershipStatus.CANCELING.value]),
                subscriptions.c.access_until <= now,
            )
            .distinct()
        )
        changes = []
        for member_id in sorted({*due, *await end_due_comps(conn, now)}):
            change = await self.refresh_member(conn, member_id, now)
            if change is not None:
                changes.append(change)
        return changes


def _row(membership: Membership, tier: Tier | None, now: datetime) -> dict[str, Any]:
    return {
        "tier": tier.key if tier else None,
        "price_id": membership.price_id,
        "status": membership.status.value,
        "stripe_status": membership.stripe_status,
        "amount_minor": membership.amount_minor,
        "currency": membership.currency,
        "interval": membership.interval,
        "started_at": membership.started_at,
        "current_period_end": membership.current_period_end,
        "cancel_at_period_end": membership.cancel_at_period_end,
        "access_until": membership.access_until,
        "grace_until": membership.grace_until,
        "trial_end": membership.trial_end,
        "ended_at": membership.ended_at,
        "end_reason": membership.end_reason,
        "cancellation_reason": membership.cancellation_reason,
        "cancellation_feedback": membership.cancellation_feedback,
        "cancellation_comment": membership.cancellation_comment,
        "updated_at": now,
    }
