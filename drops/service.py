"""DropService: every drop operation as one typed call. Adapters parse, call, and render what comes back."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from drops.announcement_posts import AnnouncementPosts
from drops.checkout import CheckoutApi, CheckoutLinks
from drops.claims import ClaimDesk
from drops.errors import (
    BadDropInput,
    CannotCancel,
    CannotClose,
    DropCancelled,
    DropClosed,
    DropNotOpen,
    HoldNotFound,
    NotEditable,
)
from drops.holds import end_holds, expire_due_holds, hold_view, read_hold
from drops.lifecycle import close_drop
from drops.models import (
    Announcement,
    CheckoutLink,
    DropInput,
    DropOptions,
    DropPhase,
    DropResult,
    DropStatus,
    DropView,
    EditDrop,
    HoldStatus,
    HoldView,
    Money,
    PaymentIssue,
    SaleView,
    WaitlistSpot,
    WaitlistStatus,
)
from drops.purchases import DropPurchases
from drops.reminders import PENDING, plan_reminders, subscribe, unsubscribe
from drops.specs import current_fields, drop_columns
from drops.supply import derive_phase, live_holds, lock_drop, read_drop, unit_counts
from drops.sweeps import DropSweeps, DueReport
from drops.tables import (
    drop_holds,
    drop_payment_issues,
    drop_reminders,
    drop_sales,
    drop_subscribers,
    drop_waitlist,
    drops,
)
from drops.views import announcement_of, drop_view, payment_issue_of, sale_of
from drops.waitlist import join_waitlist, leave_waitlist, offer_free_units, waitlist_spot, waitlist_spots
from storefront.catalog import Catalog
from storefront.clock import Clock
from storefront.db import Database
from storefront.members import ensure_member, find_member, parse_identity
from storefront.stripe_gateway import StripeGateway

__all__ = ["DropService", "DueReport"]

log = logging.getLogger(__name__)

TimesChanged = Callable[[], Awaitable[None]]
_OPEN_STATUSES = (DropStatus.SCHEDULED.value, DropStatus.OPEN.value)


class DropService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        catalog: Catalog,
        *,
        stripe: StripeGateway | CheckoutApi | None = None,
        options: DropOptions | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.catalog = catalog
        self.options = options or DropOptions()
        tier_names = {key: tier.name for key, tier in catalog.tiers.items()}
        self.claims = ClaimDesk(db, clock, self.options, tier_names)
        self.announcement_posts = AnnouncementPosts(db)
        self.links = CheckoutLinks(db, clock, stripe, self.options)
        self.purchases = DropPurchases(
            self.options,
            stripe=stripe if isinstance(stripe, StripeGateway) else None,
            units_freed=self.claims.forget_sold_out,
        )
        self.sweeps = DropSweeps(db, clock, self.options, self.claims, self.links)
        self._times_changed: list[TimesChanged] = []

    # Lifecycle of the service -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the claim writer (call inside the running event loop)."""
        self.claims.start()

    async def stop(self) -> None:
        await self.claims.stop()

    def on_times_changed(self, listener: TimesChanged) -> None:
        """Called after a drop's times change (create, edit, cancel, close): the timers re-arm from the database."""
        self._times_changed.append(listener)

    async def _notify_times_changed(self) -> None:
        for listener in self._times_changed:
            try:
                await listener()
            except Exception:
                log.exception("re-arming drop timers failed; the periodic sweep still runs")

    # Creator commands -------------------------------------------------------------------------------------

    async def create(self, spec: DropInput, *, creator: str, draft: bool = False) -> DropView:
        """`/drop create`: schedule a drop (or keep it as a draft); refused with one line, nothing written."""
        now = self.clock.now()
        columns = drop_columns(self.catalog, spec.model_dump(), now)
        creator = creator.strip()[:128] or "unknown"
        async with self.db.write() as conn:
            drop_id = await conn.scalar(
                sa.insert(drops)
                .values(
                    **columns,
                    status=(DropStatus.DRAFT if draft else DropStatus.SCHEDULED).value,
                    created_by=creator,
                    created_at=now,
                    updated_at=now,
                )
                .returning(drops.c.id)
            )
            row = await read_drop(conn, drop_id)
            if not draft:
                await plan_reminders(conn, row, now, self._reminder_lead)
            view = await self._view(conn, row, now)
        log.info("drop %s created by %s", drop_id, creator)
        await self._notify_times_changed()
        return view

    async def publish(self, drop_id: int) -> DropView:
        """Schedule a draft."""
        now = self.clock.now()
        async with self.db.write() as conn:
            row = await lock_drop(conn, drop_id)
            if row.status != DropStatus.DRAFT.value:
                return await self._view(conn, row, now)
            if row.opens_at <= now:
                raise BadDropInput("opens_at", "is in the past; edit the draft's opening time first")
            await conn.execute(
                sa.update(drops).where(drops.c.id == drop_id).values(status=DropStatus.SCHEDULED.value, updated_at=now)
            )
            row = await read_drop(conn, drop_id)
            await plan_reminders(conn, row, now, self._reminder_lead)
            view = await self._view(conn, row, now)
        await self._notify_times_changed()
        return view

    async def edit(self, drop_id: int, changes: EditDrop) -> DropView:
        """`/drop edit`: only before the drop opens (early access counts as open); refused with one line."""
        now = self.clock.now()
        async with self.db.write() as conn:
            row = await lock_drop(conn, drop_id)
            phase = derive_phase(row, None, now)
            if phase not in (DropPhase.DRAFT, DropPhase.SCHEDULED):
                raise NotEditable(row.title, phase.value)
            given = changes.changes()
            if not given:
                raise BadDropInput("edit", "give at least one field to change")
            merged = current_fields(row)
            if "early_access_tiers" in given and "early_access_minutes" not in given:
                merged["early_access_minutes"] = None
            merged.update(given)
            columns = drop_columns(self.catalog, merged, now)
            if (columns["title"], columns["price_minor"], columns["currency"]) != (
                row.title,
                row.price_minor,
                row.currency,
            ):
                columns.update(stripe_product_id=None, stripe_price_id=None)
            await conn.execute(sa.update(drops).where(drops.c.id == drop_id).values(**columns, updated_at=now))
            row = await read_drop(conn, drop_id)
            if row.status != DropStatus.DRAFT.value:
                await plan_reminders(conn, row, now, self._reminder_lead)
            view = await self._view(conn, row, now)
        await self._notify_times_changed()
        return view

    async def cancel(self, drop_id: int) -> DropView:
        """`/drop cancel`: live holds are released; a drop with sales cannot be cancelled (close it instead)."""
        now = self.clock.now()
        async with self.db.write() as conn:
            row = await lock_drop(conn, drop_id)
            phase = derive_phase(row, None, now)
            if phase in (DropPhase.CLOSED, DropPhase.CANCELLED):
                raise CannotCancel(row.title, f"it is already {phase.value}")
            sold = (await unit_counts(conn, row, now)).sold
            if sold:
                raise CannotCancel(row.title, f"{sold} already sold; close it instead and refund in Stripe if needed")
            held = list(
                await conn.scalars(
                    sa.select(drop_holds.c.id).where(
                        drop_holds.c.drop_id == drop_id, drop_holds.c.status == HoldStatus.HELD.value
                    )
                )
            )
            await end_holds(conn, held, HoldStatus.RELEASED, "drop_cancelled", now)
            await conn.execute(
                sa.update(drops)
                .where(drops.c.id == drop_id)
                .values(status=DropStatus.CANCELLED.value, closed_at=now, close_reason="cancelled", updated_at=now)
            )
            await conn.execute(
                sa.update(drop_waitlist)
                .where(drop_waitlist.c.drop_id == drop_id, drop_waitlist.c.status == WaitlistStatus.WAITING.value)
                .values(status=WaitlistStatus.CLOSED.value, updated_at=now)
            )
            await conn.execute(
                sa.update(drop_reminders)
                .where(drop_reminders.c.drop_id == drop_id, drop_reminders.c.status == PENDING)
                .values(status="skipped", done_at=now)
            )
            view = await self._view(conn, await read_drop(conn, drop_id), now)
        self.claims.forget_sold_out(drop_id)
        await self._notify_times_changed()
        return view

    async def close(self, drop_id: int) -> DropView:
        """End a drop now (the creator's choice); live holds may still be paid until they expire."""
        now = self.clock.now()
        async with self.db.write() as conn:
            row = await lock_drop(conn, drop_id)
            if row.status == DropStatus.DRAFT.value:
                raise CannotClose(row.title, "it is a draft that never opened; cancel it instead")
            await close_drop(conn, row, "closed_by_creator", now)
            view = await self._view(conn, await read_drop(conn, drop_id), now)
        await self._notify_times_changed()
        return view

    async def get(self, drop_id: int) -> DropView:
        """`/drop show`."""
        now = self.clock.now()
        async with self.db.read() as conn:
            return await self._view(conn, await read_drop(conn, drop_id), now)

    async def list_drops(self, *, include_ended: bool = False) -> list[DropView]:
        """`/drop list`: upcoming and running drops by opening time (with `include_ended`, all of them)."""
        now = self.clock.now()
        query = sa.select(drops).order_by(drops.c.opens_at, drops.c.id)
        if not include_ended:
            query = query.where(drops.c.status.in_([DropStatus.DRAFT.value, *_OPEN_STATUSES]))
        async with self.db.read() as conn:
            views = [await self._view(conn, row, now) for row in await conn.execute(query)]
        if include_ended:
            return views
        return [view for view in views if view.phase not in (DropPhase.CLOSED, DropPhase.CANCELLED)]

    async def result(self, drop_id: int) -> DropResult:
        """The final figures (for the closing post)."""
        now = self.clock.now()
        async with self.db.read() as conn:
            row = await read_drop(conn, drop_id)
            view = await self._view(conn, row, now)
            revenue, buyers = (
                await conn.execute(
                    sa.select(
                        sa.func.coalesce(sa.func.sum(drop_sales.c.amount_minor), 0),
                        sa.func.count(sa.distinct(drop_sales.c.member_id)),
                    ).where(drop_sales.c.drop_id == drop_id, drop_sales.c.status != "refunded")
                )
            ).one()
        return DropResult(
            drop_id=drop_id,
            title=view.title,
            phase=view.phase,
            supply=view.supply,
            sold=view.sold,
            revenue=Money(amount_minor=revenue, currency=row.currency) if revenue else None,
            buyers=buyers,
            closed_at=view.closed_at,
            close_reason=view.close_reason,
            waitlist_unserved=view.waiting,
        )

    # Announcements ----------------------------------------------------------------------------------------

    async def announcement(self, drop_id: int) -> Announcement:
        """The post for announcement channels: countdown text and the buttons that fit the phase."""
        view = await self.get(drop_id)
        return announcement_of(view)

    async def announcements_due(self) -> list[Announcement]:
        """Drops whose phase changed since the bots last announced them (post, then `announcement_posts.announced`)."""
        now = self.clock.now()
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(drops).where(drops.c.status != DropStatus.DRAFT.value))).all()
            views = [await self._view(conn, row, now) for row in rows]
        announced = {row.id: row.announced_phase for row in rows}
        return [announcement_of(view) for view in views if announced[view.id] != view.phase.value]

    # Fans -------------------------------------------------------------------------------------------------

    def claim(self, drop_id: int, identity: str) -> Coroutine[Any, Any, HoldView]:
        """The Claim button: a hold on one unit, decided fast; then ask `checkout_link(hold.id)` for the link."""
        # The desk's own coroutine, not one wrapped in another: in a burst, every click's refusal is raised
        # through each coroutine between the desk and the caller.
        return self.claims.claim(drop_id, identity)

    async def checkout_link(self, hold_id: str, identity: str | None = None) -> CheckoutLink:
        """The Stripe Checkout link for a live hold (made on first ask, paced; the same link afterwards)."""
        return await self.links.link_for(hold_id, identity)

    async def holds_of(self, identity: str, drop_id: int | None = None) -> list[HoldView]:
        """A person's live holds (on any platform they linked)."""
        now = self.clock.now()
        async with self.db.read() as conn:
            member_id = await find_member(conn, parse_identity(identity))
            if member_id is None:
                return []
            query = (
                sa.select(drop_holds, drops.c.title, drops.c.price_minor, drops.c.currency)
                .join(drops, drops.c.id == drop_holds.c.drop_id)
                .where(drop_holds.c.member_id == member_id, live_holds(now))
                .order_by(drop_holds.c.created_at)
            )
            if drop_id is not None:
                query = query.where(drop_holds.c.drop_id == drop_id)
            rows = (await conn.execute(query)).all()
        return [hold_view(row, row.title, Money(amount_minor=row.price_minor, currency=row.currency)) for row in rows]

    async def give_up_hold(self, hold_id: str, identity: str) -> None:
        """The person lets their hold go; the unit goes to the waitlist or back on sale."""
        now = self.clock.now()
        async with self.db.write() as conn:
            hold = await read_hold(conn, hold_id)
            if await find_member(conn, parse_identity(identity)) != hold.member_id:
                raise HoldNotFound(hold_id)
            drop = await lock_drop(conn, hold.drop_id)
            if await end_holds(conn, [hold_id], HoldStatus.RELEASED, "given_up", now):
                await offer_free_units(conn, drop, await unit_counts(conn, drop, now), now, self.options.waitlist_hold)
        self.claims.forget_sold_out(hold.drop_id)

    async def join_waitlist(self, drop_id: int, identity: str) -> WaitlistSpot:
        """Get in line for a unit that comes back; if one is free right now, it is held for you at once."""
        now = self.clock.now()
        identity = parse_identity(identity)
        async with self.db.write() as conn:
            drop = await lock_drop(conn, drop_id)
            phase = derive_phase(drop, None, now)
            if phase is DropPhase.CLOSED:
                raise DropClosed(drop.title)
            if phase is DropPhase.CANCELLED:
                raise DropCancelled(drop.title)
            if phase is DropPhase.DRAFT:
                raise DropNotOpen(drop.title, drop.opens_at)
            member_id = await ensure_member(conn, identity, now)
            await join_waitlist(conn, drop_id, member_id, identity, now)
            await expire_due_holds(conn, now, drop_id)
            await offer_free_units(conn, drop, await unit_counts(conn, drop, now), now, self.options.waitlist_hold)
            spot = await waitlist_spot(conn, drop_id, member_id)
        assert spot is not None
        return spot

    async def leave_waitlist(self, drop_id: int, identity: str) -> bool:
        async with self.db.write() as conn:
            member_id = await find_member(conn, parse_identity(identity))
            return member_id is not None and await leave_waitlist(conn, drop_id, member_id)

    async def waitlist(self, drop_id: int) -> list[WaitlistSpot]:
        """Who is in line (and who holds an offer), in order."""
        async with self.db.read() as conn:
            await read_drop(conn, drop_id)
            return await waitlist_spots(conn, drop_id)

    async def notify_me(self, drop_id: int, identity: str) -> bool:
        """The `Notify me` button: reminders before opening; True when newly opted in."""
        now = self.clock.now()
        identity = parse_identity(identity)
        async with self.db.write() as conn:
            await read_drop(conn, drop_id)
            member_id = await ensure_member(conn, identity, now)
            return await subscribe(conn, drop_id, member_id, identity, now)

    async def stop_notifying(self, drop_id: int, identity: str) -> bool:
        async with self.db.write() as conn:
            member_id = await find_member(conn, parse_identity(identity))
            return member_id is not None and await unsubscribe(conn, drop_id, member_id)

    async def subscribers(self, drop_id: int) -> list[str]:
        """Identities opted in to this drop's reminders, in the order they opted in."""
        async with self.db.read() as conn:
            rows = await conn.scalars(
                sa.select(drop_subscribers.c.identity)
                .where(drop_subscribers.c.drop_id == drop_id)
                .order_by(drop_subscribers.c.created_at, drop_subscribers.c.member_id)
            )
            return list(rows)

    # Admins -----------------------------------------------------------------------------------------------

    async def payment_issues(self, *, unresolved_only: bool = True) -> list[PaymentIssue]:
        """Late payments to refund and disputes, oldest first."""
        query = sa.select(drop_payment_issues).order_by(drop_payment_issues.c.id)
        if unresolved_only:
            query = query.where(drop_payment_issues.c.resolved_at.is_(None))
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [payment_issue_of(row) for row in rows]

    async def resolve_issue(self, issue_id: int) -> None:
        now = self.clock.now()
        async with self.db.write() as conn:
            await conn.execute(
                sa.update(drop_payment_issues)
                .where(drop_payment_issues.c.id == issue_id, drop_payment_issues.c.resolved_at.is_(None))
                .values(resolved_at=now)
            )

    async def sales(self, drop_id: int) -> list[SaleView]:
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(drop_sales).where(drop_sales.c.drop_id == drop_id).order_by(drop_sales.c.id)
                )
            ).all()
        return [sale_of(row) for row in rows]

    # Timers: each sweep is correct whenever it runs (see drops.sweeps) ----------------------------------------

    async def release_expired_holds(self, now: datetime | None = None) -> int:
        """End holds whose time passed and give free units to the waitlist, in order. Holds ended."""
        return await self.sweeps.release_expired_holds(now)

    async def open_due_drops(self, now: datetime | None = None) -> list[int]:
        """Record the opening of drops whose claim window (early access included) has begun."""
        return await self.sweeps.open_due_drops(now)

    async def close_due_drops(self, now: datetime | None = None) -> list[int]:
        """Close drops whose closing time has passed (sold-out drops close at their last sale)."""
        return await self.sweeps.close_due_drops(now)

    async def send_due_reminders(self, now: datetime | None = None) -> int:
        """Queue the reminder DMs that are due; how many DMs were queued."""
        return await self.sweeps.send_due_reminders(now)

    async def send_offers(self) -> int:
        """DM the waitlist offers not told yet (with a Checkout link when Stripe can make one)."""
        return await self.links.send_offers()

    async def run_due(self, now: datetime | None = None) -> DueReport:
        """Everything the timers do, in one idempotent pass (what every drop job runs)."""
        return await self.sweeps.run_due(now)

    async def due_times(self, now: datetime | None = None) -> dict[str, datetime]:
        """Job id -> when, for every future moment a drop needs the timers (read from the database)."""
        return await self.sweeps.due_times(now)

    # Helpers ----------------------------------------------------------------------------------------------

    @property
    def _reminder_lead(self) -> timedelta:
        return timedelta(minutes=self.options.reminder_lead_minutes)

    async def _view(self, conn: AsyncConnection, row: Any, now: datetime) -> DropView:
        return await drop_view(conn, row, now, self.catalog)
