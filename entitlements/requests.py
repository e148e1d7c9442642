"""Custom variation requests of members whose tier grants them: brief, monthly quota, status, the creators' queue.

The quota is per member (identities on both platforms map to one member) and counts this calendar month's (UTC)
requests that were not declined. Every status change writes a NOTIFY outbox row in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from entitlements.request_tables import custom_requests
from storefront.catalog import Catalog, Tier
from storefront.clock import Clock
from storefront.db import Database
from storefront.db.tables import members
from storefront.errors import StorefrontError
from storefront.members import find_member, parse_identity
from storefront.outbox import OutboxKind, enqueue

__all__ = [
    "DEFAULT_TURNAROUND",
    "BadBrief",
    "Brief",
    "CustomRequest",
    "RequestNotFound",
    "RequestQuotaUsed",
    "RequestService",
    "RequestStatus",
    "RequestStatusConflict",
    "RequestsNotInTier",
    "month_start",
    "next_month_start",
    "turnaround_of",
]

# The catalog has no turnaround field yet (`request_turnaround_days` is proposed); until then every tier gets this.
DEFAULT_TURNAROUND = timedelta(days=7)
TURNAROUND_BY_TIER: dict[str, timedelta] = {}

WHAT_MAX = 2000
SHORT_MAX = 200


class RequestStatus(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    DELIVERED = "delivered"
    DECLINED = "declined"


OPEN_STATUSES = frozenset({RequestStatus.SUBMITTED, RequestStatus.ACCEPTED, RequestStatus.IN_PROGRESS})
# status -> the statuses it may move to
_NEXT: dict[RequestStatus, frozenset[RequestStatus]] = {
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
    def __init__(self, quota: int, resets_at: datetime) -> None:
        self.quota = quota
        self.resets_at = resets_at
        requests = "request" if quota == 1 else "requests"
        super().__init__(
            f"You have used your {quota} custom {requests} for this month; "
            f"the quota resets on {resets_at.strftime('%d %b %Y')} (00:00 UTC)."
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

    def overdue(self, now: datetime) -> bool:
        return self.status in OPEN_STATUSES and self.due_at < now


def _from_row(row: sa.Row) -> CustomRequest:
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
    )


# --- time ------------------------------------------------------------------------------------------------------


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(now: datetime) -> datetime:
    start = month_start(now)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def turnaround_of(tier: Tier) -> timedelta:
    return TURNAROUND_BY_TIER.get(tier.key, DEFAULT_TURNAROUND)


# --- messages --------------------------------------------------------------------------------------------------


def _notice(request: CustomRequest) -> dict[str, object]:
    what = request.brief.what if len(request.brief.what) <= 60 else request.brief.what[:59] + "…"
    head = f"Your custom request #{request.id} ({what})"
    texts = {
        RequestStatus.SUBMITTED: f"{head} is in. Target: {request.due_at.strftime('%d %b %Y')}.",
        RequestStatus.ACCEPTED: f"{head} was accepted.",
        RequestStatus.IN_PROGRESS: f"{head} is being made now.",
        RequestStatus.DELIVERED: f"{head} is delivered."
        + (f" {request.delivery_note}" if request.delivery_note else ""),
        RequestStatus.DECLINED: f"{head} was declined: {request.decline_reason}. It does not count against your quota.",
    }
    return {"template": f"request_{request.status.value}", "text": texts[request.status], "buttons": []}


async def _notify(conn: AsyncConnection, request: CustomRequest, now: datetime) -> None:
    await enqueue(
        conn,
        key=f"request:{request.id}:{request.status.value}",
        kind=OutboxKind.NOTIFY,
        payload=_notice(request),
        now=now,
        member_id=request.member_id,
    )


# --- the service -----------------------------------------------------------------------------------------------


class RequestService:
    def __init__(self, db: Database, clock: Clock, catalog: Catalog) -> None:
        self._db = db
        self._clock = clock
        self._catalog = catalog

    def tiers_offering(self) -> list[str]:
        """Names of the tiers with a custom-request quota, cheapest first."""
        tiers = sorted(self._catalog.tiers.values(), key=lambda tier: tier.monthly_price)
        return [tier.name for tier in tiers if tier.grants.custom_requests_per_month > 0]

    async def submit(self, identity: str, brief: Brief) -> CustomRequest:
        """Open a request for the member behind `identity`, within their tier's monthly quota."""
        brief = brief.checked()
        identity = parse_identity(identity)
        now = self._clock.now()
        async with self._db.write() as conn:
            member_id = await find_member(conn, identity)
            # FOR UPDATE serialises two requests of one member on PostgreSQL; SQLite's write lock already does.
            granted = (
                await conn.scalar(sa.select(members.c.granted_tier).where(members.c.id == member_id).with_for_update())
                if member_id is not None
                else None
            )
            tier = self._catalog.tiers.get(granted) if granted else None
            if member_id is None or tier is None or tier.grants.custom_requests_per_month <= 0:
                raise RequestsNotInTier(tier.name if tier else None, self.tiers_offering())
            quota = tier.grants.custom_requests_per_month
            used = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(custom_requests)
                .where(
                    custom_requests.c.member_id == member_id,
                    custom_requests.c.created_at >= month_start(now),
                    custom_requests.c.status != RequestStatus.DECLINED.value,
                )
            )
            if used >= quota:
                raise RequestQuotaUsed(quota, next_month_start(now))
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
                    status=RequestStatus.SUBMITTED.value,
                    created_at=now,
                    due_at=now + turnaround_of(tier),
                    updated_at=now,
                )
                .returning(custom_requests.c.id)
            )
            request = await self._get(conn, request_id)
            await _notify(conn, request, now)
        return request

    async def quota_left(self, identity: str) -> tuple[int, int]:
        """(used, quota) this month for the member behind `identity`; quota 0 when the tier has none."""
        now = self._clock.now()
        async with self._db.read() as conn:
            member_id = await find_member(conn, parse_identity(identity))
            if member_id is None:
                return 0, 0
            granted = await conn.scalar(sa.select(members.c.granted_tier).where(members.c.id == member_id))
            tier = self._catalog.tiers.get(granted) if granted else None
            used = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(custom_requests)
                .where(
                    custom_requests.c.member_id == member_id,
                    custom_requests.c.created_at >= month_start(now),
                    custom_requests.c.status != RequestStatus.DECLINED.value,
                )
            )
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
            return await self._get(conn, request_id)

    async def accept(self, request_id: int, *, by: str) -> CustomRequest:
        return await self._move(request_id, RequestStatus.ACCEPTED, by=by)

    async def start(self, request_id: int, *, by: str) -> CustomRequest:
        return await self._move(request_id, RequestStatus.IN_PROGRESS, by=by)

    async def decline(self, request_id: int, reason: str, *, by: str) -> CustomRequest:
        reason = reason.strip()
        if not reason:
            raise BadBrief("Give the member a reason when declining.")
        return await self._move(request_id, RequestStatus.DECLINED, by=by, decline_reason=reason[:SHORT_MAX])

    async def deliver(self, request_id: int, note: str, *, by: str) -> CustomRequest:
        """Record the delivery (what was sent, where) and tell the member."""
        return await self._move(request_id, RequestStatus.DELIVERED, by=by, delivery_note=note.strip()[:WHAT_MAX])

    async def _get(self, conn: AsyncConnection, request_id: int) -> CustomRequest:
        row = (await conn.execute(sa.select(custom_requests).where(custom_requests.c.id == request_id))).first()
        if row is None:
            raise RequestNotFound(request_id)
        return _from_row(row)

    async def _move(self, request_id: int, wanted: RequestStatus, *, by: str, **columns: str | None) -> CustomRequest:
        now = self._clock.now()
        async with self._db.write() as conn:
            current = await self._get(conn, request_id)
            if wanted not in _NEXT[current.status]:
                raise RequestStatusConflict(request_id, current.status, wanted)
            changed = await conn.execute(
                sa.update(custom_requests)
                .where(custom_requests.c.id == request_id, custom_requests.c.status == current.status.value)
                .values(status=wanted.value, updated_at=now, handled_by=by, **columns)
            )
            if changed.rowcount != 1:  # someone else moved it between our read and write
                raise RequestStatusConflict(request_id, (await self._get(conn, request_id)).status, wanted)
            request = await self._get(conn, request_id)
            await _notify(conn, request, now)
        return request
