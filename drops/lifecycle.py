"""Stored transitions of a drop (open, close, cancel) and the sale itself, each inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from drops.messages import drop_message
from drops.models import DropStatus, HoldStatus, WaitlistStatus
from drops.supply import unit_counts
from drops.tables import drop_holds, drop_payment_issues, drop_sales, drop_waitlist, drops
from drops.waitlist import close_waitlist
from storefront.db import insert_ignore
from storefront.money import format_money
from storefront.outbox import OutboxKind, enqueue

__all__ = ["close_drop", "record_payment_issue", "record_sale"]


async def close_drop(conn: AsyncConnection, drop: Any, reason: str, now: datetime) -> bool:
    """Close a drop that is not closed yet (sold out, closing time, or the creator ends it); waiters are told."""
    result = await conn.execute(
        sa.update(drops)
        .where(drops.c.id == drop.id, drops.c.status.in_([DropStatus.SCHEDULED.value, DropStatus.OPEN.value]))
        .values(status=DropStatus.CLOSED.value, closed_at=now, close_reason=reason, updated_at=now)
    )
    if result.rowcount == 0:
        return False
    await close_waitlist(conn, drop, now)
    return True


async def record_sale(
    conn: AsyncConnection,
    drop: Any,
    hold: Any,
    *,
    checkout_session_id: str,
    payment_intent: str | None,
    amount_minor: int | None,
    currency: str | None,
    late: bool,
    now: datetime,
) -> int:
    """Turn a hold into a sale (call with the drop locked): the unit is taken, the buyer gets their item."""
    sale_id = await conn.scalar(
        sa.insert(drop_sales)
        .values(
            drop_id=drop.id,
            hold_id=hold.id,
            member_id=hold.member_id,
            identity=hold.identity,
            amount_minor=drop.price_minor if amount_minor is None else amount_minor,
            currency=(currency or drop.currency).lower(),
            checkout_session_id=checkout_session_id,
            payment_intent=payment_intent,
            status="paid",
            takes_unit=True,
            late=late,
            created_at=now,
        )
        .returning(drop_sales.c.id)
    )
    await conn.execute(
        sa.update(drop_holds)
        .where(drop_holds.c.id == hold.id)
        .values(status=HoldStatus.SOLD.value, ended_at=now, end_reason="late_payment" if late else "paid")
    )
    await conn.execute(
        sa.update(drop_waitlist)
        .where(drop_waitlist.c.hold_id == hold.id)
        .values(status=WaitlistStatus.BOUGHT.value, updated_at=now)
    )
    # The item: a DM with what was bought (a download link once the asset-pack issue lands).
    await enqueue(
        conn,
        key=f"drop:sale:{hold.id}",
        kind=OutboxKind.NOTIFY,
        payload=drop_message(
            "drop_purchased",
            drop_id=drop.id,
            title=drop.title,
            price=format_money(drop.price_minor, drop.currency),
            asset=drop.asset,
            hold_id=hold.id,
        ),
        now=now,
        member_id=hold.member_id,
    )
    counts = await unit_counts(conn, drop, now)
    if counts.sold >= drop.supply:
        await close_drop(conn, drop, "sold_out", now)
    return int(sale_id)


async def record_payment_issue(
    conn: AsyncConnection,
    *,
    key: str,
    kind: str,
    reason: str,
    now: datetime,
    drop_id: int | None = None,
    member_id: int | None = None,
    identity: str | None = None,
    hold_id: str | None = None,
    checkout_session_id: str | None = None,
    payment_intent: str | None = None,
    amount_minor: int | None = None,
    currency: str | None = None,
) -> bool:
    """Record something for an admin (idempotent by key); True when it is new."""
    return await insert_ignore(
        conn,
        drop_payment_issues,
        {
            "key": key,
            "kind": kind,
            "drop_id": drop_id,
            "member_id": member_id,
            "identity": identity,
            "hold_id": hold_id,
            "checkout_session_id": checkout_session_id,
            "payment_intent": payment_intent,
            "amount_minor": amount_minor,
            "currency": currency,
            "reason": reason,
            "created_at": now,
        },
        ["key"],
    )
