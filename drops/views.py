"""Stored rows as the views adapters render: a drop with its counts, its announcement, sales and issues."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from drops.countdown import countdown_text
from drops.models import (
    Announcement,
    DropButton,
    DropPhase,
    DropStatus,
    DropView,
    EarlyAccess,
    Money,
    PaymentIssue,
    SaleView,
    WaitlistStatus,
)
from drops.supply import derive_phase, unit_counts
from drops.tables import drop_waitlist
from storefront.catalog import Catalog

__all__ = ["announcement_of", "drop_view", "payment_issue_of", "sale_of"]


async def drop_view(conn: AsyncConnection, row: Any, now: datetime, catalog: Catalog) -> DropView:
    counts = await unit_counts(conn, row, now)
    waiting = await conn.scalar(
        sa.select(sa.func.count()).where(
            drop_waitlist.c.drop_id == row.id, drop_waitlist.c.status == WaitlistStatus.WAITING.value
        )
    )

    def tier_name(key: str) -> str:
        tier = catalog.tiers.get(key)
        return tier.name if tier else key

    return DropView(
        id=row.id,
        title=row.title,
        description=row.description,
        price=Money(amount_minor=row.price_minor, currency=row.currency),
        supply=row.supply,
        opens_at=row.opens_at,
        early_opens_at=row.early_opens_at,
        closes_at=row.closes_at,
        early_access=tuple(
            EarlyAccess(tier=key, tier_name=tier_name(key), minutes=minutes)
            for key, minutes in sorted(row.early_access.items(), key=lambda item: -item[1])
        ),
        per_person_limit=row.per_person_limit,
        asset=row.asset,
        status=DropStatus(row.status),
        created_by=row.created_by,
        created_at=row.created_at,
        closed_at=row.closed_at,
        close_reason=row.close_reason,
        sold=counts.sold,
        held=counts.held,
        waiting=waiting or 0,
        next_release_at=counts.next_release_at,
        as_of=now,
        phase=derive_phase(row, counts, now),
    )


def announcement_of(view: DropView) -> Announcement:
    """The post for announcement channels: title, price, description, countdown, and the buttons of the phase."""
    phase = view.phase
    buttons: list[DropButton] = []
    if phase in (DropPhase.EARLY_ACCESS, DropPhase.OPEN):
        buttons.append(DropButton(label="Claim", action="claim", drop_id=view.id))
    if phase is DropPhase.SOLD_OUT:
        buttons.append(DropButton(label="Join the waitlist", action="join_waitlist", drop_id=view.id))
    if phase in (DropPhase.SCHEDULED, DropPhase.EARLY_ACCESS):
        buttons.append(DropButton(label="Notify me", action="notify_me", drop_id=view.id))
    lines = [f"{view.title} · {view.price}", view.description, countdown_text(view, view.as_of)]
    return Announcement(drop=view, text="\n".join(line for line in lines if line), buttons=tuple(buttons))


def sale_of(row: Any) -> SaleView:
    return SaleView(
        id=row.id,
        drop_id=row.drop_id,
        hold_id=row.hold_id,
        identity=row.identity,
        price=Money(amount_minor=row.amount_minor, currency=row.currency),
        status=row.status,
        late=row.late,
        takes_unit=row.takes_unit,
        created_at=row.created_at,
    )


def payment_issue_of(row: Any) -> PaymentIssue:
    return PaymentIssue(
        id=row.id,
        kind=row.kind,
        drop_id=row.drop_id,
        identity=row.identity,
        checkout_session_id=row.checkout_session_id,
        payment_intent=row.payment_intent,
        amount_minor=row.amount_minor,
        currency=row.currency,
        reason=row.reason,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
    )
