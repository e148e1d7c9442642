"""The request service: submit within the quota (or sell an extra), the creators' queue, moves, overdue alerts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from entitlements.asset_tables import assets
from entitlements.request_files import MAX_DELIVERY_FILES, DeliveredFile, RequestFile, RequestFiles, TooManyFiles
from entitlements.request_tables import custom_requests, request_deliveries
from entitlements.requests._errors import (
    BadBrief,
    FilesNotAccepted,
    RequestQuotaUsed,
    RequestsNotInTier,
    RequestStatusConflict,
)
from entitlements.requests._notices import notify_member, overdue_text
from entitlements.requests._status import (
    COUNTED_STATUSES,
    NEXT_STATUSES,
    OPEN_STATUSES,
    UNPAID_STATUSES,
    RequestStatus,
)
from entitlements.requests._turnaround import turnaround_of
from entitlements.requests._values import (
    SHORT_MAX,
    WHAT_MAX,
    Brief,
    CustomRequest,
    Submission,
    load_request,
    request_from_row,
)
from storefront.catalog import Catalog, Tier
from storefront.clock import Clock
from storefront.db import Database
from storefront.db.tables import members
from storefront.members import find_member, parse_identity
from storefront.months import month_start, next_month_start
from storefront.outbox import OutboxKind, enqueue
from storefront.outbox_delivery import ADMIN_ALERT_TEMPLATE

if TYPE_CHECKING:
    from entitlements.request_payments import RequestPayments

__all__ = ["RequestService"]

AfterMove = Callable[[AsyncConnection, CustomRequest, datetime], Awaitable[Sequence[DeliveredFile]]]


class RequestService:
    """Requests from brief to delivery. `payments` sells extra requests; `files` stores references and
    delivered files; `alert_to` are the admin identities told about overdue requests."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        catalog: Catalog,
        *,
        payments: RequestPayments | None = None,
        files: RequestFiles | None = None,
        alert_to: Sequence[str] = (),
    ) -> None:
        self._db = db
        self._clock = clock
        self._catalog = catalog
        self._payments = payments
        self._files = files
        self._alert_to = list(alert_to)

    def tiers_offering(self) -> list[str]:
        """Names of the tiers with a custom-request quota, cheapest first."""
        tiers = sorted(self._catalog.tiers.values(), key=lambda tier: tier.monthly_price)
        return [tier.name for tier in tiers if tier.grants.custom_requests_per_month > 0]

    async def submit(self, identity: str, brief: Brief, *, reference: RequestFile | None = None) -> Submission:
        """Open a request for the member behind `identity`: within the tier's monthly quota it joins the queue;
        over it, a tier that sells extra requests gets one awaiting payment (with its Checkout), else
        RequestQuotaUsed. `reference` is an attached file that illustrates the brief."""
        brief = brief.checked()
        identity = parse_identity(identity)
        stored_reference = None
        if reference is not None:
            if self._files is None:
                raise FilesNotAccepted()
            async with self._db.read() as conn:
                await self._member_tier(conn, identity)  # refuse before storing anything
            [stored_reference] = await self._files.store([reference], title_prefix="Reference: ")
        now = self._clock.now()
        sale: RequestPayments | None = None  # set when the request waits for payment
        async with self._db.write() as conn:
            member_id, tier = await self._member_tier(conn, identity, lock=True)
            quota = tier.grants.custom_requests_per_month
            used = await _used(conn, member_id, now)
            resets_at = next_month_start(now)
            if used >= quota:
                if self._payments is None or not self._payments.sells(tier):
                    raise RequestQuotaUsed(quota, resets_at)
                sale = self._payments
                waiting = await sale.open_checkout_of(conn, member_id, now)
                if waiting is not None:  # asking again while paying: the same Checkout, no second session
                    return Submission(await load_request(conn, waiting.request_id), used, quota, resets_at, waiting)
            if stored_reference is not None:
                notes = f"Reference uploaded by {identity} with a custom request."
                brief = replace(
                    brief, reference_asset_id=await RequestFiles.add_asset(conn, stored_reference, now, notes)
                )
            elif brief.reference_asset_id is not None:
                await _check_reference(conn, brief.reference_asset_id)
            status = RequestStatus.AWAITING_PAYMENT if sale else RequestStatus.SUBMITTED
            request_id = await conn.scalar(
                sa.insert(custom_requests)
                .values(
                    member_id=member_id,
                    identity=identity,
                    tier=tier.key,
                    what=brief.what,
                    format=brief.format,
                    deadline_wish=brief.deadline_wish,
                    reference_asset_id=brief.reference_asset_id,
                    status=status.value,
                    created_at=now,
                    due_at=now + turnaround_of(tier),  # a paid extra's is counted again from its payment
                    updated_at=now,
                    paid_extra=sale is not None,
                )
                .returning(custom_requests.c.id)
            )
            request = await load_request(conn, request_id)
            if sale is None:
                await notify_member(conn, request, now)
                return Submission(request, used + 1, quota, resets_at)
            await sale.record_pending(conn, request, tier, now)
        checkout = await sale.create_checkout(request, tier, quota=quota, resets_at=resets_at)
        return Submission(request, used, quota, resets_at, checkout)

    async def _member_tier(self, conn: AsyncConnection, identity: str, *, lock: bool = False) -> tuple[int, Tier]:
        """The member and their tier, if it has requests; else RequestsNotInTier."""
        member_id = await find_member(conn, identity)
        granted = None
        if member_id is not None:
            query = sa.select(members.c.granted_tier).where(members.c.id == member_id)
            # FOR UPDATE serialises two requests of one member on PostgreSQL; SQLite's write lock already does.
            granted = await conn.scalar(query.with_for_update() if lock else query)
        tier = self._catalog.tiers.get(granted) if granted else None
        if member_id is None or tier is None or tier.grants.custom_requests_per_month <= 0:
            raise RequestsNotInTier(tier.name if tier else None, self.tiers_offering())
        return member_id, tier

    async def quota_left(self, identity: str) -> tuple[int, int]:
        """(used, quota) this month for the member behind `identity`; quota 0 when the tier has none."""
        now = self._clock.now()
        async with self._db.read() as conn:
            member_id = await find_member(conn, parse_identity(identity))
            if member_id is None:
                return 0, 0
            granted = await conn.scalar(sa.select(members.c.granted_tier).where(members.c.id == member_id))
            tier = self._catalog.tiers.get(granted) if granted else None
            used = await _used(conn, member_id, now)
        return used, tier.grants.custom_requests_per_month if tier else 0

    async def mine(self, identity: str) -> list[CustomRequest]:
        """The member's requests, newest first."""
        async with self._db.read() as conn:
            member_id = await find_member(conn, parse_identity(identity))
            if member_id is None:
                return []
            rows = await conn.execute(
                sa.select(custom_requests)
                .where(custom_requests.c.member_id == member_id)
                .order_by(custom_requests.c.created_at.desc(), custom_requests.c.id.desc())
            )
            return [request_from_row(row) for row in rows]

    async def queue(self) -> list[CustomRequest]:
        """Open requests for creators: overdue ones first, then the rest; each group oldest first."""
        now = self._clock.now()
        async with self._db.read() as conn:
            rows = await conn.execute(
                sa.select(custom_requests)
                .where(custom_requests.c.status.in_([status.value for status in OPEN_STATUSES]))
                .order_by(custom_requests.c.created_at, custom_requests.c.id)
            )
            found = [request_from_row(row) for row in rows]
        return sorted(found, key=lambda request: not request.overdue(now))  # stable: keeps oldest first

    async def get(self, request_id: int) -> CustomRequest:
        async with self._db.read() as conn:
            return await load_request(conn, request_id)

    async def delivered_files(self, request_id: int) -> list[int]:
        """The asset ids a request's delivery sent."""
        async with self._db.read() as conn:
            return list(
                await conn.scalars(
                    sa.select(request_deliveries.c.asset_id)
                    .where(request_deliveries.c.request_id == request_id)
                    .order_by(request_deliveries.c.asset_id)
                )
            )

    async def accept(self, request_id: int, *, by: str) -> CustomRequest:
        return await self._move(request_id, RequestStatus.ACCEPTED, by=by)

    async def start(self, request_id: int, *, by: str) -> CustomRequest:
        return await self._move(request_id, RequestStatus.IN_PROGRESS, by=by)

    async def decline(self, request_id: int, reason: str, *, by: str) -> CustomRequest:
        reason = reason.strip()
        if not reason:
            raise BadBrief("Give the member a reason when declining.")
        return await self._move(request_id, RequestStatus.DECLINED, by=by, decline_reason=reason[:SHORT_MAX])

    async def deliver(self, request_id: int, note: str, *, by: str, files: Sequence[RequestFile] = ()) -> CustomRequest:
        """Record the delivery and tell the member; `files` are stored and licensed to them (commercial), one
        download button each. Refused (and nothing stored) unless the request is accepted or in progress; if
        storing a file fails, nothing is recorded and the request stays open."""
        note = note.strip()[:WHAT_MAX]
        if not files:
            return await self._move(request_id, RequestStatus.DELIVERED, by=by, delivery_note=note)
        if len(files) > MAX_DELIVERY_FILES:
            raise TooManyFiles(len(files))
        if self._files is None:
            raise FilesNotAccepted()
        current = await self.get(request_id)
        if RequestStatus.DELIVERED not in NEXT_STATUSES[current.status]:
            raise RequestStatusConflict(request_id, current.status, RequestStatus.DELIVERED)
        stored = await self._files.store(files)
        files_store = self._files

        async def grant(conn: AsyncConnection, request: CustomRequest, now: datetime) -> Sequence[DeliveredFile]:
            return await files_store.grant(
                conn, request_id=request.id, member_id=request.member_id, stored=stored, now=now
            )

        return await self._move(request_id, RequestStatus.DELIVERED, by=by, after=grant, delivery_note=note)

    async def flag_overdue(self) -> list[int]:
        """The timer: alert the admins once about each open request past its due time; the ids flagged now."""
        now = self._clock.now()
        flagged = []
        async with self._db.write() as conn:
            rows = await conn.execute(
                sa.select(custom_requests)
                .where(
                    custom_requests.c.status.in_([status.value for status in OPEN_STATUSES]),
                    custom_requests.c.due_at < now,
                    custom_requests.c.overdue_flagged_at.is_(None),
                )
                .order_by(custom_requests.c.due_at, custom_requests.c.id)
            )
            for request in [request_from_row(row) for row in rows]:
                changed = await conn.execute(
                    sa.update(custom_requests)
                    .where(custom_requests.c.id == request.id, custom_requests.c.overdue_flagged_at.is_(None))
                    .values(overdue_flagged_at=now)
                )
                if changed.rowcount != 1:
                    continue
                await enqueue(
                    conn,
                    key=f"admin-alert:request-overdue:{request.id}",
                    kind=OutboxKind.NOTIFY,
                    payload={
                        "template": ADMIN_ALERT_TEMPLATE,
                        "text": overdue_text(request, now),
                        "buttons": [],
                        "to": self._alert_to,
                        "request": request.id,
                    },
                    now=now,
                )
                flagged.append(request.id)
        return flagged

    async def _move(
        self,
        request_id: int,
        wanted: RequestStatus,
        *,
        by: str,
        after: AfterMove | None = None,
        **columns: str | None,
    ) -> CustomRequest:
        now = self._clock.now()
        async with self._db.write() as conn:
            current = await load_request(conn, request_id)
            if wanted not in NEXT_STATUSES[current.status] or current.status in UNPAID_STATUSES:
                raise RequestStatusConflict(request_id, current.status, wanted)
            changed = await conn.execute(
                sa.update(custom_requests)
                .where(custom_requests.c.id == request_id, custom_requests.c.status == current.status.value)
                .values(status=wanted.value, updated_at=now, handled_by=by, **columns)
            )
            if changed.rowcount != 1:  # someone else moved it between our read and write
                raise RequestStatusConflict(request_id, (await load_request(conn, request_id)).status, wanted)
            request = await load_request(conn, request_id)
            files = await after(conn, request, now) if after is not None else ()
            await notify_member(conn, request, now, files)
        return request


async def _used(conn: AsyncConnection, member_id: int, now: datetime) -> int:
    """Requests of this month that use the quota: not declined, not a paid (or unpaid) extra."""
    return (
        await conn.scalar(
            sa.select(sa.func.count())
            .select_from(custom_requests)
            .where(
                custom_requests.c.member_id == member_id,
                custom_requests.c.created_at >= month_start(now),
                custom_requests.c.status.in_([status.value for status in COUNTED_STATUSES]),
                sa.not_(custom_requests.c.paid_extra),
            )
        )
        or 0
    )


async def _check_reference(conn: AsyncConnection, asset_id: int) -> None:
    if await conn.scalar(sa.select(assets.c.id).where(assets.c.id == asset_id)) is None:
        raise BadBrief(f"There is no file {asset_id} to refer to; /packs shows the file numbers.")
