"""What a request is: the member's brief, the stored request, and what `/request` got back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from entitlements.request_tables import custom_requests
from entitlements.requests._errors import BadBrief, RequestNotFound
from entitlements.requests._status import OPEN_STATUSES, RequestStatus

if TYPE_CHECKING:
    from entitlements.request_payments import ExtraRequestCheckout

__all__ = ["SHORT_MAX", "WHAT_MAX", "Brief", "CustomRequest", "Submission", "load_request", "request_from_row"]

WHAT_MAX = 2000
SHORT_MAX = 200


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


def request_from_row(row: Any) -> CustomRequest:
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
    return request_from_row(row)
