"""A member's standing as they would want to read it in `/me`: tier, status, next date, linked accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from entitlements.asset_tables import download_quota_usage
from entitlements.membership import GRANTING_STATUSES, MembershipStatus
from storefront.catalog import Catalog, Tier
from storefront.db.chat_tables import comps
from storefront.db.tables import members, subscriptions
from storefront.members import find_member, identities_of, parse_identity
from storefront.months import month_of

__all__ = ["CompStanding", "Standing", "SubscriptionStanding", "member_standing"]


@dataclass(frozen=True)
class SubscriptionStanding:
    tier: Tier | None
    status: MembershipStatus
    interval: str | None
    renews_at: datetime | None
    access_until: datetime | None
    trial_end: datetime | None
    grace_until: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True)
class CompStanding:
    tier: Tier | None
    ends_at: datetime | None


@dataclass(frozen=True)
class Standing:
    member_id: int | None
    access: Tier | None
    subscription: SubscriptionStanding | None
    comp: CompStanding | None
    identities: list[str]
    has_billing_account: bool
    downloads_left: int | None = None  # of this month's quota; None when no tier gives downloads


def _sort_key(catalog: Catalog, row: sa.Row) -> tuple[int, int, datetime]:
    granting = MembershipStatus(row.status) in GRANTING_STATUSES
    return (1 if granting else 0, catalog.rank(row.tier) if granting else 0, row.updated_at)


async def member_standing(conn: AsyncConnection, identity: str, now: datetime, catalog: Catalog) -> Standing:
    """What `identity`'s member holds now; a person the bot never saw has an empty standing."""
    member_id = await find_member(conn, parse_identity(identity))
    if member_id is None:
        return Standing(None, None, None, None, [identity], False)
    granted = await conn.scalar(sa.select(members.c.granted_tier).where(members.c.id == member_id))
    rows = list(await conn.execute(sa.select(subscriptions).where(subscriptions.c.member_id == member_id)))
    shown = max(rows, key=lambda row: _sort_key(catalog, row), default=None)
    subscription = None
    if shown is not None:
        status = MembershipStatus(shown.status)
        subscription = SubscriptionStanding(
            tier=catalog.tiers.get(shown.tier) if shown.tier else None,
            status=status,
            interval=shown.interval,
            renews_at=shown.current_period_end
            if status is MembershipStatus.ACTIVE and not shown.cancel_at_period_end
            else None,
            access_until=shown.access_until,
            trial_end=shown.trial_end,
            grace_until=shown.grace_until,
            ended_at=shown.ended_at,
        )
    comp_row = (
        await conn.execute(
            sa.select(comps.c.tier, comps.c.ends_at)
            .where(
                comps.c.member_id == member_id,
                comps.c.ended_at.is_(None),
                comps.c.starts_at <= now,
                sa.or_(comps.c.ends_at.is_(None), comps.c.ends_at > now),
            )
            .order_by(comps.c.id.desc())
            .limit(1)
        )
    ).first()
    comp = CompStanding(catalog.tiers.get(comp_row.tier), comp_row.ends_at) if comp_row else None
    known = await identities_of(conn, member_id)
    access = catalog.tiers.get(granted) if granted else None
    return Standing(
        member_id=member_id,
        access=access,
        subscription=subscription,
        comp=comp,
        identities=known,
        has_billing_account=any(i.startswith("stripe:") for i in known),
        downloads_left=await _downloads_left(conn, member_id, access, now),
    )


async def _downloads_left(conn: AsyncConnection, member_id: int, tier: Tier | None, now: datetime) -> int | None:
    """This month's downloads left under the tier's quota, counted as the download gateway counts them."""
    if tier is None or tier.grants.monthly_downloads == 0:
        return None
    used = await conn.scalar(
        sa.select(download_quota_usage.c.used).where(
            download_quota_usage.c.member_id == member_id, download_quota_usage.c.period == month_of(now)
        )
    )
    return max(0, tier.grants.monthly_downloads - (used or 0))
