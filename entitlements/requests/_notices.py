"""What members and admins are told about requests: a DM per status, and the overdue alert."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from entitlements.request_files import DeliveredFile
from entitlements.requests._status import RequestStatus
from entitlements.requests._values import CustomRequest
from storefront.outbox import OutboxKind, enqueue
from storefront.text import shortened

__all__ = ["notify_member", "overdue_text"]


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


def overdue_text(request: CustomRequest, now: datetime) -> str:
    late = now - request.due_at
    days = late.days
    how_late = f"{days} day{'s' if days != 1 else ''}" if days else f"{max(1, late.seconds // 3600)} h"
    what = shortened(request.brief.what)
    return (
        f"Custom request #{request.id} ({what}) from {request.identity} ({request.tier}) is overdue by {how_late}: "
        f"due {request.due_at:%d %b %Y %H:%M} UTC, now {request.status.value.replace('_', ' ')}. "
        "/requests shows the queue."
    )
