"""Processes stored webhook events: each in one transaction with the state it changes, so exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import sqlalchemy as sa

from storefront.clock import Clock
from storefront.db import Database
from storefront.db.tables import webhook_events
from webhooks.dispatch import Dispatcher, Outcome
from webhooks.inbox import Inbox, InboxStatus
from webhooks.stripe_payloads import StripeEvent

__all__ = ["InboxWorker"]

log = logging.getLogger(__name__)


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
        """Run the handler for one pending event; the new status, or None if it was not pending."""
        now = self._clock.now()
        try:
            async with self._db.write() as conn:
                query = sa.select(webhook_events.c.payload, webhook_events.c.status).where(
                    webhook_events.c.id == event_id
                )
                if conn.dialect.name == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                row = (await conn.execute(query)).first()
                if row is None or row.status != InboxStatus.PENDING.value:
                    return None
                event = StripeEvent.model_validate_json(row.payload)
                handler = self._dispatcher.handler_for(event.type)
                outcome = Outcome.IGNORED if handler is None else await handler(conn, event, now)
                status = InboxStatus.PROCESSED if outcome is Outcome.PROCESSED else InboxStatus.IGNORED
                await conn.execute(
                    sa.update(webhook_events)
                    .where(webhook_events.c.id == event_id)
                    .values(
                        status=status.value,
                        processed_at=now,
                        attempts=webhook_events.c.attempts + 1,
                        last_error=None,
                    )
                )
                return status
        except Exception as error:
            log.exception("webhook event %s failed", event_id)
            return await self._record_failure(event_id, error)

    async def _record_failure(self, event_id: str, error: Exception) -> InboxStatus:
        now = self._clock.now()
        async with self._db.write() as conn:
            attempts = await conn.scalar(sa.select(webhook_events.c.attempts).where(webhook_events.c.id == event_id))
            attempts = (attempts or 0) + 1
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

    async def drain(self) -> int:
        """Process every event that is due now; how many were handled."""
        handled = 0
        while ids := await self._inbox.due_ids():
            progressed = 0
            for event_id in ids:
                if await self.process(event_id) is not None:
                    progressed += 1
            handled += progressed
            if progressed == 0:
                break
        return handled

    async def run(self) -> None:
        """Drain, then sleep until woken by a new event or until the next retry is due."""
        while True:
            self._wake.clear()
            try:
                await self.drain()
            except Exception:
                log.exception("webhook worker pass failed; retrying shortly")
            next_due = await self._inbox.next_due_at()
            timeout = 30.0
            if next_due is not None:
                timeout = min(30.0, max(0.05, (next_due - self._clock.now()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
