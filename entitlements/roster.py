"""`/members`: how many members hold each tier in each state, and a paged list of them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storefront.db.chat_tables import comps
from storefront.db.tables import identities, members, subscriptions
from storefront.errors import StorefrontError

__all__ = ["PAGE_SIZE", "NoSuchPage", "Roster", "RosterRow", "roster"]

PAGE_SIZE = 10


class NoSuchPage(StorefrontError):
    def __init__(self, page: int, pages: int) -> None:
        self.page = page
        self.pages = pages
        super().__init__(f"there is no page {page}; the member list has {pages} page{'s' if pages != 1 else ''}")


@dataclass(frozen=True)
class RosterRow:
    member_id: int
    identities: list[str]
    access_tier: str | None
    statuses: list[str]  # "<tier> <status>" per subscription, newest first; "<tier> comp" for a comp in force


@dataclass(frozen=True)
class Roster:
    counts: dict[tuple[str, str], int]  # (tier, status) -> subscriptions; status "comp" counts comps in force
    with_access: dict[str, int]  # tier -> members whose access is that tier now
    rows: list[RosterRow]
    page: int
    pages: int
    total: int


def _listed() -> sa.ColumnElement[bool]:
    """Members worth listing: they hold access, or ever had a subscription or a comp."""
    return sa.or_(
        members.c.granted_tier.is_not(None),
        members.c.id.in_(sa.select(subscriptions.c.member_id)),
        members.c.id.in_(sa.select(comps.c.member_id)),
    )


async def roster(conn: AsyncConnection, now: datetime, *, page: int = 1, page_size: int = PAGE_SIZE) -> Roster:
    counts: dict[tuple[str, str], int] = {}
    for tier, status, n in await conn.execute(
        sa.select(subscriptions.c.tier, subscriptions.c.status, sa.func.count()).group_by(
            subscriptions.c.tier, subscriptions.c.status
        )
    ):
        counts[(tier or "?", status)] = n
    in_force = sa.and_(comps.c.ended_at.is_(None), sa.or_(comps.c.ends_at.is_(None), comps.c.ends_at > now))
    for tier, n in await conn.execute(
        sa.select(comps.c.tier, sa.func.count()).where(in_force, comps.c.starts_at <= now).group_by(comps.c.tier)
    ):
        counts[(tier, "comp")] = n
    with_access = {
        tier: n
        for tier, n in await conn.execute(
            sa.select(members.c.granted_tier, sa.func.count())
            .where(members.c.granted_tier.is_not(None))
            .group_by(members.c.granted_tier)
        )
    }
    total = await conn.scalar(sa.select(sa.func.count()).select_from(members).where(_listed())) or 0
    pages = max(1, math.ceil(total / page_size))
    if page > pages:
        raise NoSuchPage(page, pages)
    listed = list(
        await conn.execute(
            sa.select(members.c.id, members.c.granted_tier)
            .where(_listed())
            .order_by(members.c.id)
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
    )
    ids = [row.id for row in listed]
    names: dict[int, list[str]] = {member_id: [] for member_id in ids}
    for identity, member_id in await conn.execute(
        sa.select(identities.c.identity, identities.c.member_id).where(identities.c.member_id.in_(ids))
    ):
        names[member_id].append(identity)
    for known in names.values():
        known.sort(key=lambda identity: (identity.startswith("stripe:"), identity))  # chat accounts first
    statuses: dict[int, list[str]] = {member_id: [] for member_id in ids}
    for member_id, tier, status in await conn.execute(
        sa.select(subscriptions.c.member_id, subscriptions.c.tier, subscriptions.c.status)
        .where(subscriptions.c.member_id.in_(ids))
        .order_by(subscriptions.c.updated_at.desc())
    ):
        statuses[member_id].append(f"{tier or '?'} {status}")
    for member_id, tier in await conn.execute(
        sa.select(comps.c.member_id, comps.c.tier).where(comps.c.member_id.in_(ids), in_force, comps.c.starts_at <= now)
    ):
        statuses[member_id].append(f"{tier} comp")
    rows = [RosterRow(row.id, names[row.id], row.granted_tier, statuses[row.id]) for row in listed]
    return Roster(counts, with_access, rows, page, pages, total)
