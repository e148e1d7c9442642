"""Helpers shared by the tests: a Stripe-like webhook sender and readers of what an admin would check."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp
import sqlalchemy as sa

from storefront.app import App
from storefront.db.tables import members, outbox, subscriptions, webhook_events
from storefront.demo.stripe_events import sign_payload
from storefront.members import find_member

WEBHOOK_SECRET = "whsec_test_" + "a" * 32


@dataclass
class Reply:
    status: int
    body: dict[str, Any]


class WebhookSender:
    """Posts events to /stripe/webhook signed as Stripe signs them (or deliberately not)."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = f"{url}/stripe/webhook"
        self.session = session

    async def send(
        self,
        event: dict[str, Any] | None = None,
        *,
        body: str | bytes | None = None,
        secret: str = WEBHOOK_SECRET,
        timestamp: int | None = None,
        header: str | None = None,
        omit_header: bool = False,
    ) -> Reply:
        if body is None:
            body = json.dumps(event)
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        headers = {"Content-Type": "application/json"}
        if not omit_header:
            headers["Stripe-Signature"] = header or sign_payload(text, secret, timestamp)
        async with self.session.post(self.url, data=body, headers=headers) as response:
            try:
                payload = await response.json(content_type=None)
            except ValueError:
                payload = {"text": await response.text()}
            return Reply(response.status, payload if isinstance(payload, dict) else {"body": payload})


# Reading state the way an admin would -----------------------------------------------------------


async def member_state(app: App, identity: str) -> dict[str, Any] | None:
    """The member's granted tier and each subscription's status, straight from the database."""
    async with app.db.read() as conn:
        member_id = await find_member(conn, identity)
        if member_id is None:
            return None
        granted = await conn.scalar(sa.select(members.c.granted_tier).where(members.c.id == member_id))
        rows = await conn.execute(
            sa.select(subscriptions).where(subscriptions.c.member_id == member_id).order_by(subscriptions.c.id)
        )
        return {"member_id": member_id, "granted_tier": granted, "subscriptions": [r._asdict() for r in rows]}


async def outbox_rows(app: App, kind: str | None = None) -> list[dict[str, Any]]:
    query = sa.select(outbox).order_by(outbox.c.id)
    if kind:
        query = query.where(outbox.c.kind == kind)
    async with app.db.read() as conn:
        return [row._asdict() for row in await conn.execute(query)]


async def inbox_count(app: App) -> int:
    async with app.db.read() as conn:
        return await conn.scalar(sa.select(sa.func.count()).select_from(webhook_events)) or 0
