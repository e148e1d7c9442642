"""Availability, computed: supply minus sales that take a unit minus holds with `expires_at > now`.

Nothing here waits on a timer: an expired hold stops counting the instant its time passes, swept or not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from drops.errors import DropNotFound
from drops.models import DropPhase, DropStatus, HoldStatus
from drops.tables import drop_holds, drop_sales, drops
from storefront.db import in_chunks

__all__ = [
    "UnitCounts",
    "derive_phase",
    "early_access_starts",
    "live_holds",
    "lock_drop",
    "may_claim_early",
    "member_usage",
    "read_drop",
    "unit_counts",
]


@dataclass(frozen=True)
class UnitCounts:
    supply: int
    sold: int
    held: int
    next_release_at: datetime | None

    @property
    def available(self) -> int:
        return max(0, self.supply - self.sold - self.held)


def live_holds(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(drop_holds.c.status == HoldStatus.HELD.value, drop_holds.c.expires_at > now)


async def read_drop(conn: AsyncConnection, drop_id: int, *, for_update: bool = False) -> Any:
    query = sa.select(drops).where(drops.c.id == drop_id)
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise DropNotFound(drop_id)
    return row


async def lock_drop(conn: AsyncConnection, drop_id: int) -> Any:
    """The drop row, locked for the rest of the write transaction.

    On PostgreSQL `FOR UPDATE` serialises every decision about this drop across processes; on SQLite the
    write transaction (BEGIN IMMEDIATE) already holds the only write lock.
    """
    return await read_drop(conn, drop_id, for_update=conn.dialect.name == "postgresql")


async def unit_counts(conn: AsyncConnection, drop: Any, now: datetime) -> UnitCounts:
    live = sa.and_(drop_holds.c.drop_id == drop.id, live_holds(now))
    sold, held, next_release = (
        await conn.execute(
            sa.select(
                sa.select(sa.func.count())
                .where(drop_sales.c.drop_id == drop.id, drop_sales.c.takes_unit.is_(True))
                .scalar_subquery(),
                sa.select(sa.func.count()).where(live).scalar_subquery(),
                sa.select(sa.func.min(drop_holds.c.expires_at)).where(live).scalar_subquery(),
            )
        )
    ).one()
    return UnitCounts(drop.supply, sold or 0, held or 0, next_release)


async def member_usage(
    conn: AsyncConnection, drop_id: int, member_ids: Iterable[int], now: datetime
) -> dict[int, list[str]]:
    """For each member: ids of their live holds and paid units of this drop (what the per-person limit counts)."""
    usage: dict[int, list[str]] = {}
    wanted = sorted(set(member_ids))
    for chunk in in_chunks(wanted):
        holds = sa.select(drop_holds.c.member_id, drop_holds.c.id.label("unit")).where(
            drop_holds.c.drop_id == drop_id, drop_holds.c.member_id.in_(chunk), live_holds(now)
        )
        sales = sa.select(drop_sales.c.member_id, drop_sales.c.hold_id.label("unit")).where(
            drop_sales.c.drop_id == drop_id, drop_sales.c.member_id.in_(chunk), drop_sales.c.takes_unit.is_(True)
        )
        for member_id, hold_id in await conn.execute(sa.union_all(holds, sales)):
            usage.setdefault(member_id, []).append(hold_id)
    return usage


def early_access_starts(early_access: dict[str, int], opens_at: datetime) -> datetime:
    longest = max(early_access.values(), default=0)
    return opens_at - timedelta(minutes=longest)


def derive_phase(drop: Any, counts: UnitCounts | None, now: datetime) -> DropPhase:
    """The phase at `now` from the stored status, the times and the counts (no timer needed)."""
    status = DropStatus(drop.status)
    if status is DropStatus.CANCELLED:
        return DropPhase.CANCELLED
    if status is DropStatus.DRAFT:
        return DropPhase.DRAFT
    if status is DropStatus.CLOSED or (drop.closes_at is not None and now >= drop.closes_at):
        return DropPhase.CLOSED
    if now < drop.early_opens_at:
        return DropPhase.SCHEDULED
    if counts is not None and counts.available == 0:
        return DropPhase.SOLD_OUT
    return DropPhase.EARLY_ACCESS if now < drop.opens_at else DropPhase.OPEN


def may_claim_early(drop: Any, granted_tier: str | None, now: datetime) -> bool:
    """Whether a member whose current granted tier is `granted_tier` may claim before `opens_at`."""
    minutes = (drop.early_access or {}).get(granted_tier or "")
    return minutes is not None and now >= drop.opens_at - timedelta(minutes=minutes)
