"""Processes stored webhook events: each in the same transaction as the state it changes, so exactly once.

Due events are taken in batches; each event runs in a savepoint of the batch's transaction, so a failing
event rolls back alone and is retried later with backoff, and a crash anywhere rolls the whole batch
back to pending: nothing is lost and nothing is applied twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storefront.clock import Clock
from storefront.db import Database
from storefront.db.tables import webhook_events
from storefront.drain_loop import drain_forever
from webhooks.dispatch import Dispatcher, Outcome
from webhooks.inbox import Inbox, InboxStatus
from webhooks.stripe_payloads import StripeEvent

__all__ = ["InboxWorker"]

log = logging.getLogger(__name__)

BATCH_SIZE = 20
# A worker in another process than the web front (`--role worker`) learns of new events only by asking the
# database: a member who just paid waits at most this long for the worker to look (one indexed query each time).
POLL_SECONDS = 1.0


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 5 * 2 ** (attempts - 1)))


class InboxWorker:
    def __init__(self, db: Database, clock: Clock, inbox: Inbox, dispatcher: Dispatcher, max_attempts: int = 8) -> None:
        self._db = db
        self._clock = clock
        self._inbox = inbox
        self._dispatcher = dispatcher
        self._max_attempts = max_attempts
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def process(self, event_id: str) -> InboxStatus | None:
        """Run the handler for one pending event; its new status, or None if it was not pending."""
        results = await self._process_batch([event_id])
        return results.get(event_id)

    async def drain(self) -> int:
        """Process every event that is due now; how many were handled."""
        handled = 0
        while True:
            query = (
                sa.select(webhook_events.c.id)
                .where(
                    webhook_events.c.status == InboxStatus.PENDING.value,
                    webhook_events.c.next_attempt_at <= self._clock.now(),
                )
                .order_by(webhook_events.c.created, webhook_events.c.id)
                .limit(BATCH_SIZE)
            )
            async with self._db.read() as conn:
                ids = list(await conn.scalars(query))
            if not ids:
                return handled
            results = await self._process_batch(ids)
            handled += len(results)
            if not results:
                return handled  # another process holds them

    async def _process_batch(self, event_ids: Sequence[str]) -> dict[str, InboxStatus]:
        now = self._clock.now()
        results: dict[str, InboxStatus] = {}
        async with self._db.write() as conn:
            query = (
                sa.select(webhook_events.c.id, webhook_events.c.payload, webhook_events.c.attempts)
                .where(webhook_events.c.id.in_(event_ids), webhook_events.c.status == InboxStatus.PENDING.value)
                .order_by(webhook_events.c.created, webhook_events.c.id)
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            for row in (await conn.execute(query)).all():
                try:
                    async with conn.begin_nested():
                        results[row.id] = await self._handle(conn, row.id, row.payload, now)
                except Exception as error:
                    log.exception("webhook event %s failed", row.id)
                    results[row.id] = await self._record_failure(conn, row.id, row.attempts, error, now)
                if self._db.urgent_write_waiting():
                    break  # commit what is done and let acknowledgements in; the rest is taken next round
        return results

    async def _handle(self, conn: AsyncConnection, event_id: str, payload: str, now: datetime) -> InboxStatus:
        event = StripeEvent.model_validate_json(payload)
        handler = self._dispatcher.handler_for(event.type)
        outcome = Outcome.IGNORED if handler is None else await handler(conn, event, now)
        status = InboxStatus.PROCESSED if outcome is Outcome.PROCESSED else InboxStatus.IGNORED
        await conn.execute(
            sa.update(webhook_events)
            .where(webhook_events.c.id == event_id)
            .values(status=status.value, processed_at=now, attempts=webhook_events.c.attempts + 1, last_error=None)
        )
        return status

    async def _record_failure(
        self, conn: AsyncConnection, event_id: str, attempts: int, error: Exception, now: datetime
    ) -> InboxStatus:
        attempts += 1
        status = InboxStatus.FAILED if attempts >= self._max_attempts else InboxStatus.PENDING
        await conn.execute(
            sa.update(webhook_events)
            .where(webhook_events.c.id == event_id)
            .values(
                status=status.value,
                attempts=attempts,
                last_error=f"{type(error).__name__}: {error}"[:1000],
                next_attempt_at=now + _backoff(attempts),
            )
        )
        return status

    async def run(self) -> None:
        """Drain, then sleep until woken by a new event, until the next retry is due, or POLL_SECONDS."""
        await drain_forever(
            self.drain, self._inbox.next_due_at, self._wake, self._clock, POLL_SECONDS, "webhook worker"
        )
