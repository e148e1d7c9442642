"""The worker: reads due outbox rows, has them planned into steps per target, and runs the steps through the
deliverers, recording each through the ledger."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from storefront.clock import Clock
from storefront.db import Database
from storefront.db.delivery_tables import outbox_deliveries
from storefront.db.tables import outbox
from storefront.drain_loop import drain_forever
from storefront.outbox import OutboxKind, OutboxStatus
from storefront.outbox_delivery._contract import (
    Deliverer,
    DeliveryRejected,
    DeliveryStatus,
    NeedsAdmin,
    NotInCommunity,
    RecipientUnreachable,
    RetryLater,
)
from storefront.outbox_delivery._held_steps import retry_held_deliveries
from storefront.outbox_delivery._ledger import Claim, Completion, Ledger, Settle
from storefront.outbox_delivery._messages import MessageComposer, PortalLinks
from storefront.outbox_delivery._plan import DueRow, Job, StepPlanner, StepRecord

log = logging.getLogger(__name__)

_HANDLED_KINDS = (OutboxKind.ACCESS.value, OutboxKind.NOTIFY.value)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(600, 5 * 2 ** max(0, attempts - 1)))


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:1000]


class OutboxDeliveryWorker:
    """Delivers due ACCESS and NOTIFY outbox rows through the configured deliverers.

    Run one per database (the process that runs the bots): after a crash, the next worker re-sends the steps
    the dead one left in flight, which is only right if no other worker is still sending them.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        deliverers: Mapping[str, Deliverer],
        *,
        portal_links: PortalLinks | None = None,
        admin_identities: Sequence[str] = (),
        batch_size: int = 200,
        max_attempts: int = 8,
        poll_interval: float = 2.0,
        shutdown_grace: float = 10.0,
    ) -> None:
        self._db = db
        self._clock = clock
        self._deliverers = dict(deliverers)
        self._batch_size = batch_size
        self._max_attempts = max_attempts
        self._poll_interval = poll_interval
        self._ledger = Ledger(db, admin_identities)
        self._planner = StepPlanner(db, clock, deliverers)
        self._messages = MessageComposer(db, portal_links)
        self._slots = {platform: asyncio.Semaphore(d.concurrency) for platform, d in self._deliverers.items()}
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._recovered = False
        self._stopping = False
        self._shutdown_grace = shutdown_grace

    def wake(self) -> None:
        """Deliver soon: new rows were written."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver what is due, then sleep until woken, until the next retry is due, or `poll_interval`.

        Cancelling it is the clean shutdown: steps already talking to a platform get `shutdown_grace` seconds to
        finish and be recorded, no new step starts, so a restart sends nothing twice.
        """
        try:
            await drain_forever(
                self.drain, self._next_due_at, self._wake, self._clock, self._poll_interval, "outbox delivery"
            )
        finally:
            await self._ledger.close()  # every step has been recorded by now: drain waits for them

    async def drain(self) -> int:
        """Deliver every row that is due now; how many rows were closed (delivered or failed)."""
        async with self._lock:
            self._stopping = False
            if not self._recovered:
                await self._recover_in_flight()
                self._recovered = True
            closed_before = self._ledger.settled
            closed_by_planning = 0
            total = await self._count_due()
            seen: set[int] = set()
            # Two batches overlap: the next one is read, planned and started while the last steps of this one
            # finish, so the platform's budget is not left unused between batches.
            in_flight: list[tuple[asyncio.Task[None], set[int]]] = []
            try:
                batch = await self._planner.prepare(await self._due_rows())
                while batch.rows:
                    closed_by_planning += batch.closed
                    settled_before = self._ledger.settled
                    for row_id in batch.idle:
                        await self._ledger.submit(Settle(row_id, self._clock.now()))
                    ids = {row.id for row in batch.rows}
                    running = asyncio.create_task(self._run_jobs(batch.jobs), name="outbox-delivery-batch")
                    in_flight.append((running, ids))
                    sending = set().union(*(batch_ids for _, batch_ids in in_flight))
                    following = await self._planner.prepare(await self._due_rows(exclude=sending))
                    for task, _ in in_flight[:-1]:
                        await task
                    in_flight = in_flight[-1:]
                    closed = self._ledger.settled - closed_before + closed_by_planning
                    if total >= 100:
                        log.info("outbox delivery: %d/%d rows done", min(closed, total), total)
                    if not batch.jobs and ids <= seen and self._ledger.settled == settled_before:
                        break  # nothing runnable and nothing changed: do not spin
                    seen |= ids
                    if not following.rows:
                        # Rows the batches held back (a member's next row waits for the previous one) come due
                        # once they are done.
                        await running
                        in_flight = []
                        following = await self._planner.prepare(await self._due_rows())
                    batch = following
                for task, _ in in_flight:
                    await task
            except BaseException:
                for task, _ in in_flight:
                    task.cancel()  # _run_jobs gives the steps under way their grace period, then stops
                for task, _ in in_flight:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                raise
            return self._ledger.settled - closed_before + closed_by_planning

    async def retry_held(self) -> int:
        """Re-queue the steps held for an admin (see `retry_held_deliveries`) and deliver them soon."""
        count = await retry_held_deliveries(self._db, self._clock.now())
        self.wake()
        return count

    # --- reading what is due ---------------------------------------------------------------------------------

    def _due_query(self, now: datetime) -> sa.Select[Any]:
        o = outbox
        earlier = outbox.alias("earlier")
        # A member's rows go out in order: a row waits while an earlier one of the same member is still open.
        earlier_open = sa.exists().where(
            earlier.c.member_id == o.c.member_id,
            earlier.c.status == OutboxStatus.PENDING.value,
            earlier.c.kind.in_(_HANDLED_KINDS),
            earlier.c.id < o.c.id,
        )
        return sa.select(o.c.id, o.c.member_id, o.c.kind, o.c.payload, o.c.created_at).where(
            o.c.status == OutboxStatus.PENDING.value,
            o.c.kind.in_(_HANDLED_KINDS),
            o.c.next_attempt_at <= now,
            ~earlier_open,
        )

    async def _due_rows(self, exclude: Collection[int] = ()) -> list[DueRow]:
        """The next due rows, leaving out `exclude` (the batch still being sent)."""
        query = self._due_query(self._clock.now()).order_by(outbox.c.id).limit(self._batch_size)
        if exclude:
            query = query.where(outbox.c.id.not_in(list(exclude)))
        async with self._db.read() as conn:
            return [DueRow(r.id, r.member_id, r.kind, r.payload, r.created_at) for r in await conn.execute(query)]

    async def _count_due(self) -> int:
        query = sa.select(sa.func.count()).select_from(self._due_query(self._clock.now()).subquery())
        async with self._db.read() as conn:
            return await conn.scalar(query) or 0

    async def _next_due_at(self) -> datetime | None:
        async with self._db.read() as conn:
            return await conn.scalar(
                sa.select(sa.func.min(outbox.c.next_attempt_at)).where(
                    outbox.c.status == OutboxStatus.PENDING.value, outbox.c.kind.in_(_HANDLED_KINDS)
                )
            )

    async def _recover_in_flight(self) -> None:
        """Steps a previous process claimed but never completed are sent again (the at-least-once window)."""
        d = outbox_deliveries
        now = self._clock.now()
        async with self._db.write() as conn:
            in_flight = (
                await conn.execute(sa.select(d.c.id, d.c.outbox_id).where(d.c.status == DeliveryStatus.SENDING.value))
            ).all()
            if not in_flight:
                return
            await conn.execute(
                sa.update(d)
                .where(d.c.id.in_([row.id for row in in_flight]))
                .values(
                    status=DeliveryStatus.PENDING.value,
                    next_attempt_at=now,
                    last_error="in flight when the previous worker stopped; sent again (may arrive twice)",
                )
            )
            await conn.execute(
                sa.update(outbox)
                .where(outbox.c.id.in_({row.outbox_id for row in in_flight}))
                .values(next_attempt_at=now)
            )
        log.warning(
            "outbox delivery: %d steps were in flight when the previous worker stopped; sending them again, "
            "so each may arrive at most twice",
            len(in_flight),
        )

    # --- doing the steps -------------------------------------------------------------------------------------

    async def _run_jobs(self, jobs: list[Job]) -> None:
        """Run the jobs; when cancelled (shutdown), let the steps already under way finish and be recorded."""
        tasks = [asyncio.create_task(self._run_job(job), name=f"outbox-{job.row.id}-{job.target}") for job in jobs]
        if not tasks:
            return
        try:
            await asyncio.wait(tasks)
        except asyncio.CancelledError:
            self._stopping = True  # no new step starts; unstarted ones stay pending for the next process
            _, unfinished = await asyncio.wait(tasks, timeout=self._shutdown_grace)
            for task in unfinished:
                task.cancel()
            if unfinished:
                self._recovered = False  # their claims are now as uncertain as after a crash
            raise

    async def _run_job(self, job: Job) -> None:
        deliverer = self._deliverers.get(job.platform)
        if deliverer is None:  # planned while that platform was configured, and it no longer is
            for record in job.records:
                await self._ledger.submit(
                    Completion(
                        record.id,
                        job.row.id,
                        DeliveryStatus.SKIPPED,
                        self._clock.now(),
                        self._clock.now(),
                        error=f"{job.platform} is not configured",
                    )
                )
            return
        async with self._slots[job.platform]:
            for record in job.records:
                if self._stopping:
                    return
                try:
                    status = await self._perform(job, record, deliverer)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("outbox step %s of row %d for %s not recorded", record.step, job.row.id, job.target)
                    return
                if status is DeliveryStatus.PENDING:
                    return  # retried later, and the steps after it wait for it

    async def _perform(self, job: Job, record: StepRecord, deliverer: Deliverer) -> DeliveryStatus:
        now = self._clock.now()
        await self._ledger.submit(Claim(record.id, now))
        attempts = record.attempts + 1
        detail: str | None = None
        error: str | None = None
        alert: NeedsAdmin | None = None
        next_attempt_at = now
        try:
            detail = await self._do(job, record, deliverer, now)
            status = DeliveryStatus.DONE
        except RetryLater as exc:
            error = exc.reason
            delay = timedelta(seconds=exc.retry_after) if exc.retry_after else _backoff(attempts)
            status, next_attempt_at = self._retry_or_fail(attempts, now + delay)
        except RecipientUnreachable as exc:
            status, error = DeliveryStatus.UNREACHABLE, str(exc)
            log.info("outbox row %d: %s is unreachable: %s", job.row.id, job.target, exc)
        except NotInCommunity as exc:
            status, error = DeliveryStatus.SKIPPED, str(exc)
        except NeedsAdmin as exc:
            status, error, alert = DeliveryStatus.NEEDS_ADMIN, exc.message, exc
        except DeliveryRejected as exc:
            status, error = DeliveryStatus.FAILED, str(exc)
            log.warning("outbox row %d: %s for %s refused: %s", job.row.id, record.step, job.target, exc)
        except Exception as exc:  # an unexpected error is treated as transient, within max_attempts
            log.exception("outbox row %d: %s for %s raised", job.row.id, record.step, job.target)
            error = _error_text(exc)
            status, next_attempt_at = self._retry_or_fail(attempts, now + _backoff(attempts))
        completion = Completion(record.id, job.row.id, status, now, next_attempt_at, detail, error, alert)
        for pause in (0.5, 2.0, None):
            try:
                await self._ledger.submit(completion)
                break
            except Exception:
                # The step happened (or definitely failed): keep trying to record it, or it would be redone.
                if pause is None:
                    raise
                await asyncio.sleep(pause)
        return status

    def _retry_or_fail(self, attempts: int, at: datetime) -> tuple[DeliveryStatus, datetime]:
        if attempts >= self._max_attempts:
            return DeliveryStatus.FAILED, at
        return DeliveryStatus.PENDING, at

    async def _do(self, job: Job, record: StepRecord, deliverer: Deliverer, now: datetime) -> str | None:
        action, _, resource = record.step.partition(":")
        payload = job.row.payload or {}
        reason = f"storefront membership {payload.get('from_tier') or 'none'} -> {payload.get('to_tier') or 'none'}"
        if action == "grant":
            return await deliverer.grant(job.user_id, int(resource), now=now, reason=reason)
        if action == "revoke":
            issued = await self._messages.unrevoked_links(job.target, resource)
            await deliverer.revoke(job.user_id, int(resource), now=now, reason=reason, issued_links=issued)
            return None
        if action == "message":
            message = await self._messages.compose(job)
            if message is None:
                raise NotInCommunity("no invite link was created, so there is nothing to send")
            await deliverer.send(job.user_id, message)
            return None
        raise DeliveryRejected(f"unknown step {record.step!r}")
