"""`Notify me` and the reminders it brings: due times are rows, each DM an outbox row keyed (drop, member, reminder)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from drops.messages import drop_message
from drops.models import DropPhase
from drops.supply import derive_phase, lock_drop
from drops.tables import drop_reminders, drop_subscribers
from storefront.db import insert_ignore
from storefront.db.tables import members
from storefront.money import format_money
from storefront.outbox import OutboxKind, enqueue

__all__ = ["plan_reminders", "send_due_reminder", "subscribe", "unsubscribe"]

PENDING, SENT, SKIPPED = "pending", "sent", "skipped"


async def subscribe(conn: AsyncConnection, drop_id: int, member_id: int, identity: str, now: datetime) -> bool:
    """Opt in to this drop's reminders; True when newly opted in."""
    return await insert_ignore(
        conn,
        drop_subscribers,
        {"drop_id": drop_id, "member_id": member_id, "identity": identity, "created_at": now},
        ["drop_id", "member_id"],
    )


async def unsubscribe(conn: AsyncConnection, drop_id: int, member_id: int) -> bool:
    result = await conn.execute(
        sa.delete(drop_subscribers).where(
            drop_subscribers.c.drop_id == drop_id, drop_subscribers.c.member_id == member_id
        )
    )
    return result.rowcount > 0


async def plan_reminders(conn: AsyncConnection, drop: Any, now: datetime, lead: timedelta) -> None:
    """(Re)write the pending reminders from the drop's times: early access per tier, `lead` before, at opening."""
    await conn.execute(
        sa.delete(drop_reminders).where(drop_reminders.c.drop_id == drop.id, drop_reminders.c.status == PENDING)
    )
    due = {f"early:{tier}": drop.opens_at - timedelta(minutes=minutes) for tier, minutes in drop.early_access.items()}
    due["soon"] = drop.opens_at - lead
    due["open"] = drop.opens_at
    for kind, due_at in due.items():
        if due_at > now:
            await insert_ignore(
                conn,
                drop_reminders,
                {"drop_id": drop.id, "kind": kind, "due_at": due_at, "status": PENDING},
                ["drop_id", "kind"],
            )


async def send_due_reminder(conn: AsyncConnection, drop_id: int, kind: str, now: datetime) -> int:
    """Queue one reminder's DMs (idempotent); a reminder made stale by the drop's progress is skipped. DMs queued."""
    drop = await lock_drop(conn, drop_id)
    reminder = (
        await conn.execute(
            sa.select(drop_reminders).where(drop_reminders.c.drop_id == drop_id, drop_reminders.c.kind == kind)
        )
    ).first()
    if reminder is None or reminder.status != PENDING or reminder.due_at > now:
        return 0
    phase = derive_phase(drop, None, now)
    stale = phase in (DropPhase.CLOSED, DropPhase.CANCELLED, DropPhase.DRAFT) or (
        kind != "open" and now >= drop.opens_at
    )
    queued = 0
    if not stale:
        query = (
            sa.select(drop_subscribers.c.member_id, members.c.granted_tier)
            .join(members, members.c.id == drop_subscribers.c.member_id)
            .where(drop_subscribers.c.drop_id == drop_id)
        )
        tier = kind.removeprefix("early:") if kind.startswith("early:") else None
        if tier is not None:
            query = query.where(members.c.granted_tier == tier)
        template = {"soon": "drop_reminder", "open": "drop_open"}.get(kind, "drop_early_access")
        payload = drop_message(
            template,
            drop_id=drop.id,
            title=drop.title,
            price=format_money(drop.price_minor, drop.currency),
            supply=drop.supply,
            opens_at=drop.opens_at,
        )
        for member_id, _tier in await conn.execute(query):
            queued += await enqueue(
                conn,
                key=f"drop:{drop_id}:member:{member_id}:reminder:{kind}",
                kind=OutboxKind.NOTIFY,
                payload=payload,
                now=now,
                member_id=member_id,
            )
    await conn.execute(
        sa.update(drop_reminders)
        .where(drop_reminders.c.drop_id == drop_id, drop_reminders.c.kind == kind)
        .values(status=SKIPPED if stale else SENT, done_at=now)
    )
    return queued
