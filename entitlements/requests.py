"""Custom variation requests of members whose tier grants them: brief, monthly quota, status, the creators' queue.

The quota is per member (identities on both platforms map to one member) and counts this calendar month's (UTC)
requests that were not declined. Over the quota, a tier with an `extra_request_price` sells one more request
through Stripe Checkout (`entitlements.request_payments`): the brief waits for the payment, then joins the queue
with its due time counted from the payment; paid, unpaid and expired extras never count against the quota.
Every status change writes a NOTIFY outbox row in the same transaction; a request past its due time is flagged
to the admins once (`flag_overdue`). A delivery may carry files, each licensed to the member
(`entitlements.request_files`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from entitlements.asset_tables import assets
from entitlements.request_files import MAX_DELIVERY_FILES, DeliveredFile, RequestFile, RequestFiles, TooManyFiles
from entitlements.request_tables import custom_requests, request_deliveries
from storefront.catalog import Catalog, Tier
from storefront.clock import Clock
from storefront.db import Database
from storefront.db.tables import members
from storefront.errors import StorefrontError
from storefront.members import find_member, parse_identity
from storefront.outbox import OutboxKind, enqueue
from storefront.outbox_delivery import ADMIN_ALERT_TEMPLATE
from storefront.text import shortened

if TYPE_CHECKING:
    from entitlements.request_payments import ExtraRequestCheckout, RequestPayments

__all__ = [
    "OPEN_STATUSES",
    "UNPAID_STATUSES",
    "BadBrief",
    "Brief",
    "CustomRequest",
    "FilesNotAccepted",
    "RequestNotFound",
    "RequestQuotaUsed",
    "RequestService",
    "RequestStatus",
    "RequestStatusConflict",
    "RequestsNotInTier",
    "Submission",
    "load_request",
    "month_start",
    "next_month_start",
    "notify_member",
    "turnaround_of",
]

WHAT_MAX = 2000
SHORT_MAX = 200
DEFAULT_TURNAROUND_DAYS = 7  # for a request whose tier has left the catalog since


class RequestStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"  # a paid extra request whose Checkout is open
    PAYMENT_EXPIRED = "expired"  # its Checkout expired unpaid
    PAYMENT_FAILED = "payment_failed"  # Stripe could not open its Checkout
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    DELIVERED = "delivered"
    DECLINED = "declined"


OPEN_STATUSES = frozenset({RequestStatus.SUBMITTED, RequestStatus.ACCEPTED, RequestStatus.IN_PROGRESS})
UNPAID_STATUSES = frozenset(
    {RequestStatus.AWAITING_PAYMENT, RequestStatus.PAYMENT_EXPIRED, RequestStatus.PAYMENT_FAILED}
)
# What uses a month's quota: requests within it that were not declined (never a paid extra, see `_used`).
_COUNTED = (RequestStatus.SUBMITTED, RequestStatus.ACCEPTED, RequestStatus.IN_PROGRESS, RequestStatus.DELIVERED)
# status -> the statuses it may move to. Stripe's word moves an unpaid request to submitted even after its
# Checkout expired or failed on our side: money that arrived is honoured.
_NEXT: dict[RequestStatus, frozenset[RequestStatus]] = {
    RequestStatus.AWAITING_PAYMENT: frozenset(
        {RequestStatus.SUBMITTED, RequestStatus.PAYMENT_EXPIRED, RequestStatus.PAYMENT_FAILED}
    ),
    RequestStatus.PAYMENT_EXPIRED: frozenset({RequestStatus.SUBMITTED}),
    RequestStatus.PAYMENT_FAILED: frozenset({RequestStatus.SUBMITTED}),
    RequestStatus.SUBMITTED: frozenset({RequestStatus.ACCEPTED, RequestStatus.DECLINED}),
    RequestStatus.ACCEPTED: frozenset({RequestStatus.IN_PROGRESS, RequestStatus.DELIVERED, RequestStatus.DECLINED}),
    RequestStatus.IN_PROGRESS: frozenset({RequestStatus.DELIVERED, RequestStatus.DECLINED}),
    RequestStatus.DELIVERED: frozenset(),
    RequestStatus.DECLINED: frozenset(),
}


# --- errors ----------------------------------------------------------------------------------------------------


class RequestsNotInTier(StorefrontError):
    """The member's current tier has no custom-request quota; `offered_by` names the tiers that have one."""

    def __init__(self, current_tier: str | None, offered_by: list[str]) -> None:
        self.current_tier = current_tier
        self.offered_by = offered_by
        where = f"your {current_tier} membership" if current_tier else "your account (no membership right now)"
        offer = f"they come with the {' or '.join(offered_by)} tier" if offered_by else "no tier offers them right now"
        super().__init__(f"Custom requests are not part of {where}; {offer}.")


class RequestQuotaUsed(StorefrontError):
    def __init__(self, quota: int, resets_at: datetime, extra: str = "") -> None:
        self.quota = quota
        self.resets_at = resets_at
        requests = "request" if quota == 1 else "requests"
        super().__init__(
            f"You have used your {quota} custom {requests} for this month; "
            f"the quota resets on {resets_at.strftime('%d %b %Y')} (00:00 UTC).{extra}"
        )


class RequestNotFound(StorefrontError):
    def __init__(self, request_id: int) -> None:
        self.request_id = request_id
        super().__init__(f"There is no request #{request_id}.")


class RequestStatusConflict(StorefrontError):
    def __init__(self, request_id: int, status: RequestStatus, wanted: RequestStatus) -> None:
        self.request_id = request_id
        self.status = status
        self.wanted = wanted
        super().__init__(
            f"Request #{request_id} is {status.value.replace('_', ' ')}; it cannot become "
            f"{wanted.value.replace('_', ' ')} now."
        )


class BadBrief(StorefrontError):
    pass


class FilesNotAccepted(StorefrontError):
    def __init__(self) -> None:
        super().__init__("Files cannot be stored here yet (no file store is set up); send a note instead.")


# --- values ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Brief:
    what: str
    format: str | None = None
    deadline_wish: str | None = None
    reference_asset_id: int | None = None

    def checked(self) -> Brief:
        what = self.what.strip()
        if not what:
            raise BadBrief("Say what you would like made, e.g. /request the fox print in blue, 4000px PNG.")
        if len(what) > WHAT_MAX:
            raise BadBrief(f"Please keep the brief under {WHAT_MAX} characters.")
        for label, value in (("format", self.format), ("deadline wish", self.deadline_wish)):
            if value is not None and len(value) > SHORT_MAX:
                raise BadBrief(f"Please keep the {label} under {SHORT_MAX} characters.")
        if self.reference_asset_id is not None and self.reference_asset_id < 1:
            raise BadBrief("A reference is a file number from /packs, e.g. ref: 12.")
        return Brief(what, _blank_to_none(self.format), _blank_to_none(self.deadline_wish), self.reference_asset_id)


def _blank_to_none(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


@dataclass(frozen=True)
class CustomRequest:
    id: int
    member_id: int
    identity: str
    tier: str
    brief: Brief
    status: RequestStatus
    created_at: datetime
    due_at: datetime
    updated_at: datetime
    decline_reason: str | None = None
    delivery_note: str | None = None
    paid_extra: bool = False
    overdue_flagged_at: datetime | None = None

    def overdue(self, now: datetime) -> bool:
        return self.status in OPEN_STATUSES and self.due_at < now


@dataclass(frozen=True)
class Submission:
    """What `/request` got: the request, the month's quota after it, and the Checkout when it awaits payment."""

    request: CustomRequest
    used: int
    quota: int
    resets_at: datetime
    checkout: ExtraRequestCheckout | None = None


def _from_row(row: Any) -> CustomRequest:
    return CustomRequest(
        id=row.id,
        member_id=row.member_id,
        identity=row.identity,
        tier=row.tier,
        brief=Brief(row.what, row.format, row.deadline_wish, row.reference_asset_id),
        status=RequestStatus(row.status),
        created_at=row.created_at,
        due_at=row.due_at,
        updated_at=row.updated_at,
        decline_reason=row.decline_reason,
        delivery_note=row.delivery_note,
        paid_extra=bool(row.paid_extra),
        overdue_flagged_at=row.overdue_flagged_at,
    )


async def load_request(conn: AsyncConnection, request_id: int) -> CustomRequest:
    row = (await conn.execute(sa.select(custom_requests).where(custom_requests.c.id == request_id))).first()
    if row is None:
        raise RequestNotFound(request_id)
    return _from_row(row)


# --- time ------------------------------------------------------------------------------------------------------


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(now: datetime) -> datetime:
    start = month_start(now)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def turnaround_of(tier: Tier | None) -> timedelta:
    """The tier's target time for a request (the catalog's `request_turnaround_days`)."""
    return timedelta(days=tier.grants.request_turnaround_days if tier else DEFAULT_TURNAROUND_DAYS)


# --- messages --------------------------------------------------------------------------------------------------


def _notice(request: CustomRequest, files: Sequence[DeliveredFile] = ()) -> dict[str, Any]:
    what = shortened(request.brief.what)
    head = f"Your custom request #{request.id} ({what})"
    target = f"Target: {request.due_at.strftime('%d %b %Y')}."
    quota_back = "" if request.paid_extra else " It does not count against your quota."
    delivered = f"{head} is delivered." + (f" {request.delivery_note}" if request.delivery_note else "")
    if files:
        delivered += (
            f" The {'file comes' if len(files) == 1 else 'files come'} with a commercial license; each download "
            "carries your signed license certificate. /packs has fresh links later."
        )
    texts = {
        RequestStatus.SUBMITTED: (
            f"Payment received: your extra request #{request.id} ({what}) is in the queue. {target}"
            if request.paid_extra
            else f"{head} is in. {target}"
        ),
        RequestStatus.ACCEPTED: f"{head} was accepted.",
        RequestStatus.IN_PROGRESS: f"{head} is being made now.",
        RequestStatus.DELIVERED: delivered,
        RequestStatus.DECLINED: f"{head} was declined: {request.decline_reason}.{quota_back}",
    }
    buttons = [{"label": f"Download {file.filename}"[:64], "url": file.url} for file in files]
    return {"template": f"request_{request.status.value}", "text": texts[request.status], "buttons": buttons}


async def notify_member(
    conn: AsyncConnection, request: CustomRequest, now: datetime, files: Sequence[DeliveredFile] = ()
) -> None:
    """The member's DM about the request's current status (once per request and status)."""
    await enqueue(
        conn,
        key=f"request:{request.id}:{request.status.value}",
        kind=OutboxKind.NOTIFY,
        payload=_notice(request, files),
        now=now,
        member_id=request.member_id,
    )


# --- the service -----------------------------------------------------------------------------------------------

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
            return [_from_row(row) for row in rows]

    async def queue(self) -> list[CustomRequest]:
        """Open requests for creators: overdue ones first, then the rest; each group oldest first."""
        now = self._clock.now()
        async with self._db.read() as conn:
            rows = await conn.execute(
                sa.select(custom_requests)
                .where(custom_requests.c.status.in_([status.value for status in OPEN_STATUSES]))
                .order_by(custom_requests.c.created_at, custom_requests.c.id)
            )
            found = [_from_row(row) for row in rows]
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
        if RequestStatus.DELIVERED not in _NEXT[current.status]:
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
            for request in [_from_row(row) for row in rows]:
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
                        "text": _overdue_text(request, now),
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
            if wanted not in _NEXT[current.status] or current.status in UNPAID_STATUSES:
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


def _overdue_text(request: CustomRequest, now: datetime) -> str:
    late = now - request.due_at
    days = late.days
    how_late = f"{days} day{'s' if days != 1 else ''}" if days else f"{max(1, late.seconds // 3600)} h"
    what = shortened(request.brief.what)
    return (
        f"Custom request #{request.id} ({what}) from {request.identity} ({request.tier}) is overdue by {how_late}: "
        f"due {request.due_at:%d %b %Y %H:%M} UTC, now {request.status.value.replace('_', ' ')}. "
        "/requests shows the queue."
    )


async def _used(conn: AsyncConnection, member_id: int, now: datetime) -> int:
    """Requests of this month that use the quota: not declined, not a paid (or unpaid) extra."""
    return (
        await conn.scalar(
            sa.select(sa.func.count())
            .select_from(custom_requests)
            .where(
                custom_requests.c.member_id == member_id,
                custom_requests.c.created_at >= month_start(now),
                custom_requests.c.status.in_([status.value for status in _COUNTED]),
                sa.not_(custom_requests.c.paid_extra),
            )
        )
        or 0
    )


async def _check_reference(conn: AsyncConnection, asset_id: int) -> None:
    if await conn.scalar(sa.select(assets.c.id).where(assets.c.id == asset_id)) is None:
        raise BadBrief(f"There is no file {asset_id} to refer to; /packs shows the file numbers.")
