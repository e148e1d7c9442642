"""`storefront member show`: a member as JSON-ready data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from storefront.db.tables import members, subscriptions
from storefront.errors import NotFound
from storefront.members import find_member, identities_of, parse_identity

if TYPE_CHECKING:
    from storefront.app import App

__all__ = ["member_report"]

_SUBSCRIPTION_FIELDS = (
    "id",
    "tier",
    "status",
    "stripe_status",
    "amount_minor",
    "currency",
    "interval",
    "current_period_end",
    "access_until",
    "grace_until",
    "trial_end",
    "ended_at",
    "end_reason",
    "cancel_at_period_end",
    "cancellation_reason",
    "cancellation_feedback",
    "cancellation_comment",
)


async def member_report(app: App, identity: str) -> dict[str, Any]:
    identity = parse_identity(identity)
    async with app.db.read() as conn:
        member_id = await find_member(conn, identity)
        if member_id is None:
            raise NotFound("member", identity)
        member = (await conn.execute(sa.select(members).where(members.c.id == member_id))).one()
        rows = await conn.execute(
            sa.select(*(subscriptions.c[name] for name in _SUBSCRIPTION_FIELDS))
            .where(subscriptions.c.member_id == member_id)
            .order_by(subscriptions.c.updated_at.desc())
        )
        return {
            "member_id": member_id,
            "identities": await identities_of(conn, member_id),
            "granted_tier": member.granted_tier,
            "trial_used": member.trial_used_at is not None,
            "subscriptions": [
                {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row._asdict().items()} for row in rows
            ],
        }
