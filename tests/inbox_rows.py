"""Rows of the webhook inbox table for tests that write it directly."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from storefront.app import App
from storefront.db.tables import webhook_events

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def event_row(event_id: str, payload: str | None = "{}", created: datetime = NOW) -> dict:
    return {
        "id": event_id,
        "type": "invoice.paid",
        "created": created,
        "received_at": NOW,
        "payload": payload,
        "status": "pending",
        "next_attempt_at": NOW,
    }


async def stored_ids(app: App) -> list[str]:
    async with app.db.read() as conn:
        return list((await conn.execute(sa.select(webhook_events.c.id).order_by(webhook_events.c.id))).scalars())
