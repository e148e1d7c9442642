"""The waitlist: people in line for units that come back; a freed unit becomes a time-boxed hold, in order."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from drops.holds import NewHold, insert_holds, new_hold_id
from drops.messages import drop_message
from drops.models import DropPhase, WaitlistSpot, WaitlistStatus
from drops.supply import UnitCounts, derive_phase, may_claim_early, member_usage
from drops.tables import drop_waitlist
from storefront.db.tables import members
from storefront.money import format_money
from storefront.outbox import OutboxKind, enqueue

__all__ = ["close_waitlist", "join_waitlist", "leave_waitlist", "offer_free_units", "waitlist_spot", "waitlist_spots"]

_ACTIVE = (WaitlistStatus.WAITING.value, WaitlistStatus.OFFERED.value)


async def _position(conn: AsyncConnection, drop_id: int, entry_id: int) -> int:
    ahead = await conn.scalar(
        sa.select(sa.func.count()).where(
            drop_waitlist.c.drop_id == drop_id,
            drop_waitlist.c.status == WaitlistStatus.WAITING.value,
            drop_waitlist.c.id <= entry_id,
        )
    )
    return int(ahead or 0)


async def _spot(conn: AsyncConnection, row: Any) -> WaitlistSpot:
    waiting = row.status == WaitlistStatus.WAITING.value
    return WaitlistSpot(
        drop_id=row.drop_id,
        identity=row.identity,
        status=WaitlistStatus(row.status),
        position=await _position(conn, row.drop_id, row.id) if waiting else None,
        hold_id=row.hold_id,
    )


async def waitlist_spot(conn: AsyncConnection, drop_id: int, member_id: int) -> WaitlistSpot | None:
    row = (
        await conn.execute(
            sa.select(drop_waitlist).where(drop_waitlist.c.drop_id == drop_id, drop_waitlist.c.member_id == member_id)
        )
    ).first()
    return None if row is None else await _spot(conn, row)


async def waitlist_spots(conn: AsyncConnection, drop_id: int) -> list[WaitlistSpot]:
    """Everyone in line or offered a unit, in order."""
    rows = (
        await conn.execute(
            sa.select(drop_waitlist)
            .where(drop_waitlist.c.drop_id == drop_id, drop_waitlist.c.status.in_(_ACTIVE))
            .order_by(drop_waitlist.c.id)
        )
    ).all()
    spots, position = [], 0
    for row in rows:
        waiting = row.status == WaitlistStatus.WAITING.value
        position += waiting
        spots.append(
            WaitlistSpot(
                drop_id=row.drop_id,
                identity=row.identity,
                status=WaitlistStatus(row.status),
                position=position if waiting else None,
                hold_id=row.hold_id,
            )
        )
    return spots


async def join_waitlist(conn: AsyncConnection, drop_id: int, member_id: int, identity: str, now: datetime) -> None:
    """Get in line (idempotent while in line); after a lapsed offer or leaving, joining again goes to the back."""
    existing = (
        await conn.execute(
            sa.select(drop_waitlist.c.id, drop_waitlist.c.status).where(
                drop_waitlist.c.drop_id == drop_id, drop_waitlist.c.member_id == member_id
            )
        )
    ).first()
    if existing is not None and existing.status in _ACTIVE:
        return
    if existing is not None:
        await conn.execute(sa.delete(drop_waitlist).where(drop_waitlist.c.id == existing.id))
    await conn.execute(
        sa.insert(drop_waitlist).values(
            drop_id=drop_id,
            member_id=member_id,
            identity=identity,
            status=WaitlistStatus.WAITING.value,
            joined_at=now,
            updated_at=now,
        )
    )


async def leave_waitlist(conn: AsyncConnection, drop_id: int, member_id: int) -> bool:
    result = await conn.execute(
        sa.delete(drop_waitlist).where(
            drop_waitlist.c.drop_id == drop_id,
            drop_waitlist.c.member_id == member_id,
            drop_waitlist.c.status == WaitlistStatus.WAITING.value,
        )
    )
    return result.rowcount > 0


async def offer_free_units(
    conn: AsyncConnection,
    drop: Any,
    counts: UnitCounts,
    now: datetime,
    hold_for: timedelta,
) -> list[NewHold]:
    """Turn free units into holds for the first people in line who may still buy one (call with the drop locked).

    During early access only entitled members are served; the others keep their place.
    """
    free = counts.available
    phase = derive_phase(drop, counts, now)
    if free <= 0 or phase not in (DropPhase.EARLY_ACCESS, DropPhase.OPEN):
        return []
    early = phase is DropPhase.EARLY_ACCESS
    offers: list[NewHold] = []
    after_id = 0
    while free > 0:
        batch = (
            await conn.execute(
                sa.select(
                    drop_waitlist.c.id, drop_waitlist.c.member_id, drop_waitlist.c.identity, members.c.granted_tier
                )
                .join(members, members.c.id == drop_waitlist.c.member_id)
                .where(
                    drop_waitlist.c.drop_id == drop.id,
                    drop_waitlist.c.status == WaitlistStatus.WAITING.value,
                    drop_waitlist.c.id > after_id,
                )
                .order_by(drop_waitlist.c.id)
                .limit(max(free * 4, 50))
            )
        ).all()
        if not batch:
            break
        after_id = batch[-1].id
        usage = await member_usage(conn, drop.id, [row.member_id for row in batch], now)
        for row in batch:
            if free == 0:
                break
            if early and not may_claim_early(drop, row.granted_tier, now):
                continue
            if len(usage.get(row.member_id, [])) >= drop.per_person_limit:
                continue
            hold = NewHold(new_hold_id(), drop.id, row.member_id, row.identity, "waitlist", now, now + hold_for)
            offers.append(hold)
            usage.setdefault(row.member_id, []).append(hold.id)
            free -= 1
            await conn.execute(
                sa.update(drop_waitlist)
                .where(drop_waitlist.c.id == row.id)
                .values(status=WaitlistStatus.OFFERED.value, hold_id=hold.id, updated_at=now)
            )
    await insert_holds(conn, offers)
    return offers


async def close_waitlist(conn: AsyncConnection, drop: Any, now: datetime) -> int:
    """The drop ended: everyone still waiting is told no unit came back."""
    rows = (
        await conn.execute(
            sa.select(drop_waitlist.c.id, drop_waitlist.c.member_id).where(
                drop_waitlist.c.drop_id == drop.id, drop_waitlist.c.status == WaitlistStatus.WAITING.value
            )
        )
    ).all()
    price = format_money(drop.price_minor, drop.currency)
    for row in rows:
        await enqueue(
            conn,
            key=f"drop:{drop.id}:waitlist_closed:member:{row.member_id}",
            kind=OutboxKind.NOTIFY,
            payload=drop_message("drop_waitlist_closed", drop_id=drop.id, title=drop.title, price=price),
            now=now,
            member_id=row.member_id,
        )
    if rows:
        await conn.execute(
            sa.update(drop_waitlist)
            .where(drop_waitlist.c.id.in_([row.id for row in rows]))
            .values(status=WaitlistStatus.CLOSED.value, updated_at=now)
        )
    return len(rows)
