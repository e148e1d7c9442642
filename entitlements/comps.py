"""Manual comps: an admin gives someone a tier for free, for a while or until revoked.

A comp is its own record, never a fake payment: subscriptions and billing events stay exactly what Stripe
said, and MembershipService grants the better of the paid tier and any comp in force.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storefront.db.chat_tables import comps
from storefront.db.tables import members
from storefront.errors import NotFound, StorefrontError
from storefront.members import ensure_member, find_member, parse_identity

if TYPE_CHECKING:
    from entitlements.memberships import MembershipService

__all__ = [
    "MAX_COMP_DAYS",
    "CompGranted",
    "CompRevoked",
    "NoCompToRevoke",
    "active_comp_tiers",
    "end_due_comps",
    "grant_comp",
    "revoke_comp",
]

MAX_COMP_DAYS = 3650


class NoCompToRevoke(StorefrontError):
    def __init__(self, identity: str) -> None:
        self.identity = identity
        super().__init__(f"no comp to revoke for {identity} (paid memberships are changed in Stripe, not here)")


@dataclass(frozen=True)
class CompGranted:
    member_id: int
    tier: str
    ends_at: datetime | None
    access_tier: str | None


@dataclass(frozen=True)
class CompRevoked:
    member_id: int
    revoked: int
    access_tier: str | None


def _in_force(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        comps.c.ended_at.is_(None),
        comps.c.starts_at <= now,
        sa.or_(comps.c.ends_at.is_(None), comps.c.ends_at > now),
    )


async def active_comp_tiers(conn: AsyncConnection, member_id: int, now: datetime) -> list[str]:
    """Tier keys of the member's comps in force at `now`."""
    rows = await conn.scalars(sa.select(comps.c.tier).where(comps.c.member_id == member_id, _in_force(now)))
    return list(rows)


async def end_due_comps(conn: AsyncConnection, now: datetime) -> list[int]:
    """Close comps whose end time has passed; the members whose access must be re-derived."""
    due = list(
        await conn.execute(
            sa.select(comps.c.id, comps.c.member_id).where(comps.c.ended_at.is_(None), comps.c.ends_at <= now)
        )
    )
    if due:
        await conn.execute(
            sa.update(comps)
            .where(comps.c.id.in_([row.id for row in due]))
            .values(ended_at=comps.c.ends_at, end_reason="expired")
        )
    return sorted({row.member_id for row in due})


async def _access_tier(conn: AsyncConnection, member_id: int) -> str | None:
    return await conn.scalar(sa.select(members.c.granted_tier).where(members.c.id == member_id))


async def grant_comp(
    conn: AsyncConnection,
    memberships: MembershipService,
    *,
    identity: str,
    tier_key: str,
    days: int | None,
    granted_by: str,
    now: datetime,
) -> CompGranted:
    """Give `identity` the tier for `days` (None: until revoked); a comp in force is replaced."""
    identity = parse_identity(identity)
    tier = memberships.catalog.tier(tier_key)
    if days is not None and not 1 <= days <= MAX_COMP_DAYS:
        raise StorefrontError(f"days must be between 1 and {MAX_COMP_DAYS}")
    member_id = await ensure_member(conn, identity, now)
    await conn.execute(
        sa.update(comps)
        .where(comps.c.member_id == member_id, _in_force(now))
        .values(ended_at=now, end_reason="replaced", ended_by=granted_by)
    )
    ends_at = now + timedelta(days=days) if days is not None else None
    await conn.execute(
        sa.insert(comps).values(
            member_id=member_id, tier=tier.key, starts_at=now, ends_at=ends_at, granted_by=granted_by
        )
    )
    await memberships.refresh_member(conn, member_id, now)
    return CompGranted(member_id, tier.key, ends_at, await _access_tier(conn, member_id))


async def revoke_comp(
    conn: AsyncConnection, memberships: MembershipService, *, identity: str, revoked_by: str, now: datetime
) -> CompRevoked:
    """End the comps in force for `identity`; a paid subscription keeps whatever it grants."""
    identity = parse_identity(identity)
    member_id = await find_member(conn, identity)
    if member_id is None:
        raise NotFound("member", identity)
    result = await conn.execute(
        sa.update(comps)
        .where(comps.c.member_id == member_id, _in_force(now))
        .values(ended_at=now, end_reason="revoked", ended_by=revoked_by)
    )
    if result.rowcount == 0:
        raise NoCompToRevoke(identity)
    await memberships.refresh_member(conn, member_id, now)
    return CompRevoked(member_id, result.rowcount, await _access_tier(conn, member_id))
