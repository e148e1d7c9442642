"""Effects on the outside world, written as rows in the same transaction as the state change."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from storefront.db import insert_ignore
from storefront.db.tables import outbox

__all__ = ["OutboxKind", "OutboxStatus", "enqueue"]


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
    return await insert_ignore(
        conn,
        outbox,
        {
            "key": key,
            "kind": kind.value,
            "member_id": member_id,
            "payload": payload,
            "status": OutboxStatus.PENDING.value,
            "next_attempt_at": now,
            "created_at": now,
        },
        ["key"],
    )
