"""Effects on the outside world, written as rows in the same transaction as the state change."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from storefront.db import insert_ignoring_conflicts
from storefront.db.tables import outbox

__all__ = ["OutboxKind", "OutboxStatus", "enqueue", "enqueue_in_one_trip"]


class OutboxKind(StrEnum):
    ACCESS = "access"
    NOTIFY = "notify"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


async def enqueue(
    conn: AsyncConnection,
    *,
    key: str,
    kind: OutboxKind,
    payload: dict[str, Any],
    now: datetime,
    member_id: int | None = None,
) -> bool:
    """Queue one effect under an idempotency key; a key already queued is not queued again."""
    return (await conn.execute(_enqueue_statement(conn, key, kind, payload, now, member_id))).rowcount == 1


def enqueue_in_one_trip(
    conn: sa.Connection, *, key: str, kind: OutboxKind, payload: dict[str, Any], now: datetime
) -> bool:
    """`enqueue` for synchronous work, such as `Database.write_in_one_trip`'s."""
    return conn.execute(_enqueue_statement(conn, key, kind, payload, now, None)).rowcount == 1


def _enqueue_statement(
    conn: AsyncConnection | sa.Connection,
    key: str,
    kind: OutboxKind,
    payload: dict[str, Any],
    now: datetime,
    member_id: int | None,
) -> Insert:
    return insert_ignoring_conflicts(conn, outbox, ["key"]).values(
        key=key,
        kind=kind.value,
        member_id=member_id,
        payload=payload,
        status=OutboxStatus.PENDING.value,
        next_attempt_at=now,
        created_at=now,
    )
