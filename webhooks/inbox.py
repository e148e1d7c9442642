"""The webhook inbox: every verified event is stored here before Stripe gets its 200."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from pydantic import BaseModel

from storefront.clock import Clock, utc_from_timestamp
from storefront.db import Database, RowInserter
from storefront.db.tables import webhook_events
from storefront.errors import NotFound
from webhooks.stripe_payloads import StripeEvent, StripeEventHeader

__all__ = ["Inbox", "InboxEntry", "InboxStatus"]


class InboxStatus(StrEnum):
    PENDING = "pending"
    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"


class InboxEntry(BaseModel):
    id: str
    type: str
    status: InboxStatus
    created: datetime
    received_at: datetime
    attempts: int
    processed_at: datetime | None
    last_error: str | None


class Inbox:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._writer = RowInserter(db, webhook_events, key="id")

    async def store(self, event: StripeEvent | StripeEventHeader, body: str) -> bool:
        """Store the event as it arrived; False if it was already stored (a duplicate delivery).

        Returns only once the row is committed; concurrent deliveries share one transaction and one commit.
        """
        now = self._clock.now()
        return await self._writer.insert(
            {
                "id": event.id,
                "type": event.type,
                "created": utc_from_timestamp(event.created),
                "received_at": now,
                "payload": body,
                "status": InboxStatus.PENDING.value,
                "next_attempt_at": now,
            }
        )

    async def close(self) -> None:
        await self._writer.close()

    async def next_due_at(self) -> datetime | None:
        async with self._db.read() as conn:
            return await conn.scalar(
                sa.select(sa.func.min(webhook_events.c.next_attempt_at)).where(
                    webhook_events.c.status == InboxStatus.PENDING.value
                )
            )

    async def entries(self, status: InboxStatus | None = None, limit: int = 50) -> list[InboxEntry]:
        query = sa.select(*_ENTRY_COLUMNS).order_by(webhook_events.c.received_at.desc()).limit(limit)
        if status is not None:
            query = query.where(webhook_events.c.status == status.value)
        async with self._db.read() as conn:
            return [InboxEntry.model_validate(row._asdict()) for row in await conn.execute(query)]

    async def entry(self, event_id: str) -> InboxEntry:
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(*_ENTRY_COLUMNS).where(webhook_events.c.id == event_id))).first()
        if row is None:
            raise NotFound("webhook event", event_id)
        return InboxEntry.model_validate(row._asdict())

    async def requeue(self, event_id: str) -> None:
        """Make a stored event pending again (replay). Handlers are idempotent, so this doubles nothing."""
        async with self._db.write() as conn:
            result = await conn.execute(
                sa.update(webhook_events)
                .where(webhook_events.c.id == event_id)
                .values(status=InboxStatus.PENDING.value, next_attempt_at=self._clock.now(), attempts=0)
            )
        if result.rowcount == 0:
            raise NotFound("webhook event", event_id)


_ENTRY_COLUMNS = (
    webhook_events.c.id,
    webhook_events.c.type,
    webhook_events.c.status,
    webhook_events.c.created,
    webhook_events.c.received_at,
    webhook_events.c.attempts,
    webhook_events.c.processed_at,
    webhook_events.c.last_error,
)
