"""Steps that did not reach their target, for admins: list them, and re-queue the held ones once fixed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from storefront.db import Database
from storefront.db.delivery_tables import outbox_deliveries
from storefront.db.tables import outbox
from storefront.outbox import OutboxKind, OutboxStatus
from storefront.outbox_delivery._contract import NOTE_STATUSES, PROBLEM_STATUSES, DeliveryStatus


async def retry_held_deliveries(db: Database, now: datetime) -> int:
    """Re-queue steps held for an admin, once the misconfiguration is fixed; how many were re-queued.

    A held grant or revoke whose member has a newer access change is left alone: replaying it would undo the
    newer one. Alerts already sent are forgotten, so a problem that is still there is reported again.
    """
    d, o = outbox_deliveries, outbox
    newer = outbox.alias("newer")
    superseded = sa.exists().where(
        newer.c.member_id == o.c.member_id, newer.c.kind == OutboxKind.ACCESS.value, newer.c.id > o.c.id
    )
    async with db.write() as conn:
        held = (
            await conn.execute(
                sa.select(d.c.id, d.c.outbox_id)
                .select_from(d.join(o, o.c.id == d.c.outbox_id))
                .where(
                    d.c.status == DeliveryStatus.NEEDS_ADMIN.value,
                    sa.or_(o.c.kind != OutboxKind.ACCESS.value, ~superseded),
                )
            )
        ).all()
        if not held:
            return 0
        await conn.execute(
            sa.update(d)
            .where(d.c.id.in_([row.id for row in held]))
            .values(status=DeliveryStatus.PENDING.value, next_attempt_at=now, completed_at=None, attempts=0)
        )
        await conn.execute(
            sa.update(o)
            .where(o.c.id.in_({row.outbox_id for row in held}))
            .values(status=OutboxStatus.PENDING.value, next_attempt_at=now, last_error=None)
        )
        await conn.execute(
            sa.update(o)
            .where(o.c.key.like("admin-alert:%"), ~o.c.key.like("%#%"))
            .values(key=o.c.key + "#" + sa.cast(o.c.id, sa.String))
        )
    return len(held)


async def undelivered_steps(db: Database, limit: int = 100) -> list[dict[str, Any]]:
    """Steps that ended without reaching their target (held, failed, unreachable, skipped), newest first."""
    d = outbox_deliveries
    query = (
        sa.select(
            outbox.c.key.label("outbox_key"),
            d.c.target,
            d.c.step,
            d.c.status,
            d.c.attempts,
            d.c.completed_at,
            d.c.last_error,
        )
        .select_from(d.join(outbox, outbox.c.id == d.c.outbox_id))
        .where(d.c.status.in_(PROBLEM_STATUSES + NOTE_STATUSES))
        .order_by(d.c.id.desc())
        .limit(limit)
    )
    async with db.read() as conn:
        return [row._asdict() for row in await conn.execute(query)]
