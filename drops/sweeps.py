"""The timers' work: sweeps that are correct whenever they run, and the due times the timers are armed from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from drops.checkout import CheckoutLinks
from drops.claims import ClaimDesk
from drops.holds import expire_due_holds
from drops.lifecycle import close_drop
from drops.models import DropOptions, DropStatus, HoldStatus, WaitlistStatus
from drops.reminders import PENDING, send_due_reminder
from drops.supply import lock_drop, unit_counts
from drops.tables import drop_holds, drop_reminders, drop_waitlist, drops
from drops.waitlist import offer_free_units
from storefront.clock import Clock
from storefront.db import Database

__all__ = ["DropSweeps", "DueReport"]

_OPEN_STATUSES = (DropStatus.SCHEDULED.value, DropStatus.OPEN.value)


@dataclass(frozen=True)
class DueReport:
    """What one pass of the timers did."""

    opened: list[int]
    closed: list[int]
    holds_released: int
    reminders_queued: int
    offers_sent: int


class DropSweeps:
    """Each sweep reads what is due from the database and is idempotent: late, repeated or skipped runs are safe."""

    def __init__(
        self, db: Database, clock: Clock, options: DropOptions, claims: ClaimDesk, links: CheckoutLinks
    ) -> None:
        self.db = db
        self.clock = clock
        self.options = options
        self.claims = claims
        self.links = links

    async def release_expired_holds(self, now: datetime | None = None) -> int:
        """End holds whose time passed and give free units to the waitlist, in order. Holds ended."""
        now = now or self.clock.now()
        released: dict[int, int] = {}
        async with self.db.write() as conn:
            expiring = sa.select(drop_holds.c.drop_id).where(
                drop_holds.c.status == HoldStatus.HELD.value, drop_holds.c.expires_at <= now
            )
            waiting = (
                sa.select(drop_waitlist.c.drop_id)
                .join(drops, drops.c.id == drop_waitlist.c.drop_id)
                .where(drop_waitlist.c.status == WaitlistStatus.WAITING.value, drops.c.status.in_(_OPEN_STATUSES))
            )
            drop_ids = sorted(
                set(await conn.scalars(expiring.distinct())) | set(await conn.scalars(waiting.distinct()))
            )
            for drop_id in drop_ids:
                # The drop row first, then its holds: the same lock order as the claim path (no deadlock on PostgreSQL).
                drop = await lock_drop(conn, drop_id)
                released.update(await expire_due_holds(conn, now, drop_id))
                await offer_free_units(conn, drop, await unit_counts(conn, drop, now), now, self.options.waitlist_hold)
        for drop_id in released:
            self.claims.forget_sold_out(drop_id)
        return sum(released.values())

    async def open_due_drops(self, now: datetime | None = None) -> list[int]:
        """Record the opening of drops whose claim window (early access included) has begun."""
        now = now or self.clock.now()
        async with self.db.write() as conn:
            due = list(
                await conn.scalars(
                    sa.select(drops.c.id).where(
                        drops.c.status == DropStatus.SCHEDULED.value, drops.c.early_opens_at <= now
                    )
                )
            )
            if due:
                await conn.execute(
                    sa.update(drops)
                    .where(drops.c.id.in_(due), drops.c.status == DropStatus.SCHEDULED.value)
                    .values(status=DropStatus.OPEN.value, opened_at=now, updated_at=now)
                )
        return due

    async def close_due_drops(self, now: datetime | None = None) -> list[int]:
        """Close drops whose closing time has passed (sold-out drops close at their last sale)."""
        now = now or self.clock.now()
        closed = []
        async with self.db.write() as conn:
            due = list(
                await conn.scalars(
                    sa.select(drops.c.id).where(
                        drops.c.status.in_(_OPEN_STATUSES), drops.c.closes_at.is_not(None), drops.c.closes_at <= now
                    )
                )
            )
            for drop_id in due:
                if await close_drop(conn, await lock_drop(conn, drop_id), "closing_time", now):
                    closed.append(drop_id)
        return closed

    async def send_due_reminders(self, now: datetime | None = None) -> int:
        """Queue the reminder DMs that are due; how many DMs were queued."""
        now = now or self.clock.now()
        async with self.db.read() as conn:
            due = (
                await conn.execute(
                    sa.select(drop_reminders.c.drop_id, drop_reminders.c.kind)
                    .where(drop_reminders.c.status == PENDING, drop_reminders.c.due_at <= now)
                    .order_by(drop_reminders.c.due_at)
                )
            ).all()
        queued = 0
        for drop_id, kind in due:
            async with self.db.write() as conn:
                queued += await send_due_reminder(conn, drop_id, kind, now)
        return queued

    async def run_due(self, now: datetime | None = None) -> DueReport:
        """Everything the timers do, in one idempotent pass (what every drop job runs)."""
        now = now or self.clock.now()
        report = DueReport(
            opened=await self.open_due_drops(now),
            closed=await self.close_due_drops(now),
            holds_released=await self.release_expired_holds(now),
            reminders_queued=await self.send_due_reminders(now),
            offers_sent=await self.links.send_offers(),
        )
        await self.links.close_ended_sessions()
        return report

    async def due_times(self, now: datetime | None = None) -> dict[str, datetime]:
        """Job id -> when, for every future moment a drop needs the timers (read from the database)."""
        now = now or self.clock.now()
        times: dict[str, datetime] = {}
        async with self.db.read() as conn:
            for row in await conn.execute(sa.select(drops).where(drops.c.status.in_(_OPEN_STATUSES))):
                for name, moment in (("early", row.early_opens_at), ("open", row.opens_at), ("close", row.closes_at)):
                    if moment is not None and moment > now:
                        times[f"drop-{row.id}-{name}"] = moment
            reminders = await conn.execute(
                sa.select(drop_reminders.c.drop_id, drop_reminders.c.kind, drop_reminders.c.due_at).where(
                    drop_reminders.c.status == PENDING
                )
            )
            for drop_id, kind, due_at in reminders:
                times[f"drop-{drop_id}-reminder-{kind}"] = max(due_at, now)
            next_expiry = await conn.scalar(
                sa.select(sa.func.min(drop_holds.c.expires_at)).where(drop_holds.c.status == HoldStatus.HELD.value)
            )
            if next_expiry is not None:
                times["drop-holds-next-expiry"] = max(next_expiry, now)
        return times
