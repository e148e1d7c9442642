"""The worker: reads due outbox rows, plans their steps per target, and runs them through the deliverers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storefront.clock import Clock
from storefront.db import Database
from storefront.db.delivery_tables import outbox_deliveries
from storefront.db.tables import identities, outbox
from storefront.drain_loop import drain_forever
from storefront.outbox import OutboxKind, OutboxStatus
from storefront.outbox_delivery._contract import (
    Deliverer,
    DeliveryRejected,
    DeliveryStatus,
    LinkButton,
    NeedsAdmin,
    NotInCommunity,
    OutgoingMessage,
    RecipientUnreachable,
    RetryLater,
)
from storefront.outbox_delivery._held_steps import retry_held_deliveries
from storefront.outbox_delivery._ledger import Claim, Completion, Ledger, Settle

log = logging.getLogger(__name__)

PortalLinks = Callable[[int], Awaitable[str | None]]

_HANDLED_KINDS = (OutboxKind.ACCESS.value, OutboxKind.NOTIFY.value)
_ACCESS_READY_TEXT = (
    "Your member access is ready. The button below is your personal invite: it works once and expires soon."
)


# --- rows as the worker reads them -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    id: int
    member_id: int | None
    kind: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass
class _Record:
    id: int
    outbox_id: int
    target: str
    step: str
    attempts: int
    next_attempt_at: datetime


@dataclass
class _Job:
    """The steps of one row for one target, run in order."""

    row: _Row
    target: str
    platform: str
    user_id: int
    records: list[_Record] = field(default_factory=list)


@dataclass(frozen=True)
class _Batch:
    rows: list[_Row]
    closed: int  # rows closed outright by planning
    jobs: list[_Job]
    idle: list[int]  # rows with nothing runnable now


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(600, 5 * 2 ** max(0, attempts - 1)))


def _platform_of(identity: str) -> tuple[str, int] | None:
    platform, _, user = identity.partition(":")
    try:
        return platform, int(user)
    except ValueError:
        return None


def _invite_buttons(links: Sequence[str]) -> list[LinkButton]:
    if len(links) == 1:
        return [LinkButton("Join the members' chat", links[0])]
    return [LinkButton(f"Join members' chat {n}", link) for n, link in enumerate(links, start=1)]


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:1000]


# --- the worker ----------------------------------------------------------------------------------------------


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
        self._portal_links = portal_links
        self._batch_size = batch_size
        self._max_attempts = max_attempts
        self._poll_interval = poll_interval
        self._ledger = Ledger(db, admin_identities)
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
                batch = await self._prepare(await self._due_rows())
                while batch.rows:
                    closed_by_planning += batch.closed
                    settled_before = self._ledger.settled
                    for row_id in batch.idle:
                        await self._ledger.submit(Settle(row_id, self._clock.now()))
                    ids = {row.id for row in batch.rows}
                    running = asyncio.create_task(self._run_jobs(batch.jobs), name="outbox-delivery-batch")
                    in_flight.append((running, ids))
                    sending = set().union(*(batch_ids for _, batch_ids in in_flight))
                    following = await self._prepare(await self._due_rows(exclude=sending))
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
                        following = await self._prepare(await self._due_rows())
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

    async def _prepare(self, rows: list[_Row]) -> _Batch:
        """Plan the rows' steps and find what can run now."""
        if not rows:
            return _Batch([], 0, [], [])
        closed = await self._plan(rows)
        jobs, idle = await self._jobs(rows)
        return _Batch(rows, closed, jobs, idle)

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

    async def _due_rows(self, exclude: Collection[int] = ()) -> list[_Row]:
        """The next due rows, leaving out `exclude` (the batch still being sent)."""
        query = self._due_query(self._clock.now()).order_by(outbox.c.id).limit(self._batch_size)
        if exclude:
            query = query.where(outbox.c.id.not_in(list(exclude)))
        async with self._db.read() as conn:
            return [_Row(r.id, r.member_id, r.kind, r.payload, r.created_at) for r in await conn.execute(query)]

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

    # --- planning: rows into steps ---------------------------------------------------------------------------

    async def _plan(self, rows: list[_Row]) -> int:
        """Expand rows that have no steps yet, all in one transaction; how many rows it closed outright."""
        d = outbox_deliveries
        async with self._db.write() as conn:
            planned = set(
                await conn.scalars(sa.select(d.c.outbox_id).where(d.c.outbox_id.in_([row.id for row in rows])))
            )
            fresh = [row for row in rows if row.id not in planned]
            if not fresh:
                return 0
            member_ids = {row.member_id for row in fresh if row.member_id is not None}
            known: dict[int, list[str]] = {}
            for identity, member_id in await conn.execute(
                sa.select(identities.c.identity, identities.c.member_id)
                .where(identities.c.member_id.in_(member_ids))
                .order_by(identities.c.identity)
            ):
                known.setdefault(member_id, []).append(identity)
            welcomed = await self._welcome_companions(conn, [row for row in fresh if row.kind == OutboxKind.ACCESS])
            now = self._clock.now()
            records: list[dict[str, Any]] = []
            closed = 0
            for row in fresh:
                steps = self._steps(row, known.get(row.member_id or 0, []), row.id in welcomed)
                if steps is None:
                    closed += await self._close(conn, row, OutboxStatus.FAILED, self._no_target_reason(row, known))
                elif not steps:
                    closed += await self._close(conn, row, OutboxStatus.DELIVERED, None)
                for position, (target, step) in enumerate(steps or []):
                    records.append(
                        {
                            "outbox_id": row.id,
                            "target": target,
                            "step": step,
                            "position": position,
                            "status": DeliveryStatus.PENDING.value,
                            "attempts": 0,
                            "next_attempt_at": now,
                        }
                    )
            if records:
                await conn.execute(sa.insert(d), records)
            return closed

    def _steps(self, row: _Row, member_identities: list[str], welcomed: bool) -> list[tuple[str, str]] | None:
        """(target, step) pairs for a row; None when nobody can receive it."""
        payload = row.payload or {}
        explicit = payload.get("to") if row.kind == OutboxKind.NOTIFY else None
        candidates = list(explicit) if explicit is not None else member_identities
        targets = [
            identity
            for identity in candidates
            if (parsed := _platform_of(identity)) is not None and parsed[0] in self._deliverers
        ]
        if not targets:
            return None
        steps: list[tuple[str, str]] = []
        for target in targets:
            if row.kind == OutboxKind.NOTIFY:
                steps.append((target, "message"))
                continue
            deliverer = self._deliverers[target.partition(":")[0]]
            granted = [int(i) for i in (payload.get("grant") or {}).get(deliverer.resource_key, [])]
            revoked = [int(i) for i in (payload.get("revoke") or {}).get(deliverer.resource_key, [])]
            steps += [(target, f"grant:{resource}") for resource in granted]
            steps += [(target, f"revoke:{resource}") for resource in revoked]
            # Invite links ride in the welcome message when there is one; otherwise they get a message of their own.
            if deliverer.grant_yields_link and granted and not welcomed:
                steps.append((target, "message"))
        return steps

    def _no_target_reason(self, row: _Row, known: dict[int, list[str]]) -> str:
        have = ", ".join(known.get(row.member_id or 0, [])) or "none"
        if row.kind == OutboxKind.NOTIFY and (row.payload or {}).get("to") is not None:
            have = ", ".join(row.payload["to"]) or "no admin identities configured"
        return f"no_target: nobody to deliver to on {', '.join(sorted(self._deliverers)) or 'no platform'} ({have})"

    async def _close(self, conn: AsyncConnection, row: _Row, status: OutboxStatus, error: str | None) -> int:
        values: dict[str, Any] = {"status": status.value, "last_error": error}
        if status is OutboxStatus.DELIVERED:
            values["delivered_at"] = self._clock.now()
        else:
            log.info("outbox row %d not delivered: %s", row.id, error)
        result = await conn.execute(
            sa.update(outbox).where(outbox.c.id == row.id, outbox.c.status == OutboxStatus.PENDING.value).values(values)
        )
        return result.rowcount

    @staticmethod
    async def _welcome_companions(conn: AsyncConnection, access_rows: list[_Row]) -> set[int]:
        """ACCESS rows written together with a welcome message (same member, same transaction, just after)."""
        if not access_rows:
            return set()
        members = {row.member_id for row in access_rows}
        notes = await conn.execute(
            sa.select(outbox.c.id, outbox.c.member_id, outbox.c.created_at, outbox.c.payload).where(
                outbox.c.kind == OutboxKind.NOTIFY.value,
                outbox.c.member_id.in_(members),
                outbox.c.id > min(row.id for row in access_rows),
            )
        )
        welcomes = [note for note in notes if (note.payload or {}).get("template") == "welcome"]
        return {
            row.id
            for row in access_rows
            if any(
                note.member_id == row.member_id and note.created_at == row.created_at and note.id > row.id
                for note in welcomes
            )
        }

    async def _jobs(self, rows: list[_Row]) -> tuple[list[_Job], list[int]]:
        """Runnable jobs (row, target) of the rows, and the rows with nothing runnable now (to settle)."""
        d = outbox_deliveries
        now = self._clock.now()
        async with self._db.read() as conn:
            records = await conn.execute(
                sa.select(d.c.id, d.c.outbox_id, d.c.target, d.c.step, d.c.attempts, d.c.next_attempt_at)
                .where(d.c.outbox_id.in_([row.id for row in rows]), d.c.status == DeliveryStatus.PENDING.value)
                .order_by(d.c.outbox_id, d.c.target, d.c.position)
            )
            by_id = {row.id: row for row in rows}
            jobs: dict[tuple[int, str], _Job] = {}
            for record in records:
                key = (record.outbox_id, record.target)
                if key not in jobs:
                    platform, user_id = _platform_of(record.target) or ("", 0)
                    jobs[key] = _Job(by_id[record.outbox_id], record.target, platform, user_id)
                jobs[key].records.append(
                    _Record(
                        record.id,
                        record.outbox_id,
                        record.target,
                        record.step,
                        record.attempts,
                        record.next_attempt_at,
                    )
                )
        runnable = [job for job in jobs.values() if job.records[0].next_attempt_at <= now]
        busy = {job.row.id for job in runnable}
        return runnable, [row.id for row in rows if row.id not in busy]

    # --- doing the steps -------------------------------------------------------------------------------------

    async def _run_jobs(self, jobs: list[_Job]) -> None:
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

    async def _run_job(self, job: _Job) -> None:
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

    async def _perform(self, job: _Job, record: _Record, deliverer: Deliverer) -> DeliveryStatus:
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

    async def _do(self, job: _Job, record: _Record, deliverer: Deliverer, now: datetime) -> str | None:
        action, _, resource = record.step.partition(":")
        payload = job.row.payload or {}
        reason = f"storefront membership {payload.get('from_tier') or 'none'} -> {payload.get('to_tier') or 'none'}"
        if action == "grant":
            return await deliverer.grant(job.user_id, int(resource), now=now, reason=reason)
        if action == "revoke":
            issued = await self._unrevoked_links(job.target, resource)
            await deliverer.revoke(job.user_id, int(resource), now=now, reason=reason, issued_links=issued)
            return None
        if action == "message":
            message = await self._compose(job)
            if message is None:
                raise NotInCommunity("no invite link was created, so there is nothing to send")
            await deliverer.send(job.user_id, message)
            return None
        raise DeliveryRejected(f"unknown step {record.step!r}")

    async def _compose(self, job: _Job) -> OutgoingMessage | None:
        row = job.row
        if row.kind == OutboxKind.ACCESS:
            links = await self._links_of(row.id, job.target)
            return OutgoingMessage(_ACCESS_READY_TEXT, tuple(_invite_buttons(links))) if links else None
        payload = row.payload or {}
        text = str(payload.get("text") or "").strip()
        if not text:
            raise DeliveryRejected("the message has no text")
        buttons: list[LinkButton] = []
        for spec in payload.get("buttons") or []:
            if spec.get("url"):
                buttons.append(LinkButton(str(spec["label"]), str(spec["url"])))
            elif spec.get("action") == "portal" and row.member_id is not None:
                url = await self._portal_link(row.member_id)
                if url:
                    buttons.append(LinkButton(str(spec["label"]), url))
        if payload.get("template") == "welcome" and row.member_id is not None:
            companion = await self._companion_access_row(row)
            if companion is not None:
                buttons = _invite_buttons(await self._links_of(companion, job.target)) + buttons
        return OutgoingMessage(text, tuple(buttons))

    async def _portal_link(self, member_id: int) -> str | None:
        if self._portal_links is None:
            return None
        try:
            return await self._portal_links(member_id)
        except Exception:
            log.warning("no billing-portal link for member %d; sending without it", member_id, exc_info=True)
            return None

    async def _companion_access_row(self, row: _Row) -> int | None:
        async with self._db.read() as conn:
            return await conn.scalar(
                sa.select(outbox.c.id)
                .where(
                    outbox.c.member_id == row.member_id,
                    outbox.c.kind == OutboxKind.ACCESS.value,
                    outbox.c.created_at == row.created_at,
                    outbox.c.id < row.id,
                )
                .order_by(outbox.c.id.desc())
                .limit(1)
            )

    async def _links_of(self, outbox_id: int, target: str) -> list[str]:
        d = outbox_deliveries
        async with self._db.read() as conn:
            return list(
                await conn.scalars(
                    sa.select(d.c.detail)
                    .where(
                        d.c.outbox_id == outbox_id,
                        d.c.target == target,
                        d.c.step.like("grant:%"),
                        d.c.status == DeliveryStatus.DONE.value,
                        d.c.detail.is_not(None),
                    )
                    .order_by(d.c.position)
                )
            )

    async def _unrevoked_links(self, target: str, resource: str) -> list[str]:
        """Links issued to `target` for the resource since its last completed revoke."""
        d = outbox_deliveries
        async with self._db.read() as conn:
            steps = await conn.execute(
                sa.select(d.c.outbox_id, d.c.step, d.c.detail).where(
                    d.c.target == target,
                    d.c.step.in_([f"grant:{resource}", f"revoke:{resource}"]),
                    d.c.status == DeliveryStatus.DONE.value,
                )
            )
            steps = steps.all()
        last_revoke = max((s.outbox_id for s in steps if s.step.startswith("revoke:")), default=0)
        return [s.detail for s in steps if s.step.startswith("grant:") and s.detail and s.outbox_id > last_revoke]
