"""Holds: one unit reserved for one person until `expires_at`. Rows with a status, never timers."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from drops.errors import HoldNotFound
from drops.models import HoldStatus, HoldView, Money, WaitlistStatus
from drops.tables import drop_holds, drop_waitlist, drops

__all__ = ["NewHold", "end_holds", "expire_due_holds", "hold_view", "insert_holds", "new_hold_id", "read_hold"]


def new_hold_id() -> str:
    return "hold_" + secrets.token_hex(12)


@dataclass(frozen=True)
class NewHold:
    id: str
    drop_id: int
    member_id: int
    identity: str
    source: str
    created_at: datetime
    expires_at: datetime

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "drop_id": self.drop_id,
            "member_id": self.member_id,
            "identity": self.identity,
            "source": self.source,
            "status": HoldStatus.HELD.value,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }


async def insert_holds(conn: AsyncConnection, holds: list[NewHold]) -> None:
    if holds:
        await conn.execute(sa.insert(drop_holds), [hold.row() for hold in holds])


async def end_holds(
    conn: AsyncConnection, hold_ids: Iterable[str], status: HoldStatus, reason: str, now: datetime
) -> list[str]:
    """End holds that are still HELD (expired or not); the ids that were ended. Waitlist offers on them lapse."""
    ids = list(hold_ids)
    if not ids:
        return []
    held = list(
        await conn.scalars(
            sa.select(drop_holds.c.id).where(drop_holds.c.id.in_(ids), drop_holds.c.status == HoldStatus.HELD.value)
        )
    )
    if held:
        await conn.execute(
            sa.update(drop_holds)
            .where(drop_holds.c.id.in_(held), drop_holds.c.status == HoldStatus.HELD.value)
            .values(status=status.value, ended_at=now, end_reason=reason)
        )
        await conn.execute(
            sa.update(drop_waitlist)
            .where(drop_waitlist.c.hold_id.in_(held), drop_waitlist.c.status == WaitlistStatus.OFFERED.value)
            .values(status=WaitlistStatus.LAPSED.value, updated_at=now)
        )
    return held


async def expire_due_holds(conn: AsyncConnection, now: datetime, drop_id: int | None = None) -> dict[int, int]:
    """Mark HELD holds whose time has passed as EXPIRED; how many per drop.

    Only bookkeeping: availability already stopped counting them at `expires_at`.
    """
    query = sa.select(drop_holds.c.id, drop_holds.c.drop_id).where(
        drop_holds.c.status == HoldStatus.HELD.value, drop_holds.c.expires_at <= now
    )
    if drop_id is not None:
        query = query.where(drop_holds.c.drop_id == drop_id)
    rows = (await conn.execute(query)).all()
    ended = set(await end_holds(conn, [row.id for row in rows], HoldStatus.EXPIRED, "hold_expired", now))
    per_drop: dict[int, int] = {}
    for row in rows:
        if row.id in ended:
            per_drop[row.drop_id] = per_drop.get(row.drop_id, 0) + 1
    return per_drop


async def read_hold(conn: AsyncConnection, hold_id: str) -> Any:
    query = (
        sa.select(drop_holds, drops.c.title, drops.c.price_minor, drops.c.currency)
        .join(drops, drops.c.id == drop_holds.c.drop_id)
        .where(drop_holds.c.id == hold_id)
    )
    row = (await conn.execute(query)).first()
    if row is None:
        raise HoldNotFound(hold_id)
    return row


def hold_view(row: Any, title: str, price: Money) -> HoldView:
    return HoldView(
        id=row.id,
        drop_id=row.drop_id,
        drop_title=title,
        member_id=row.member_id,
        identity=row.identity,
        source=row.source,
        status=HoldStatus(row.status),
        created_at=row.created_at,
        expires_at=row.expires_at,
        price=price,
        checkout_url=getattr(row, "checkout_url", None),
    )
