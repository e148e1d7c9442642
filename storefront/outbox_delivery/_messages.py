"""What a step sends (the welcome with its invite links, a notice with its buttons), and the links a revoke ends."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import sqlalchemy as sa

from storefront.db import Database
from storefront.db.delivery_tables import outbox_deliveries
from storefront.db.tables import outbox
from storefront.outbox import OutboxKind
from storefront.outbox_delivery._contract import DeliveryRejected, DeliveryStatus, LinkButton, OutgoingMessage
from storefront.outbox_delivery._plan import DueRow, Job

__all__ = ["MessageComposer", "PortalLinks"]

log = logging.getLogger(__name__)

PortalLinks = Callable[[int], Awaitable[str | None]]

_ACCESS_READY_TEXT = (
    "Your member access is ready. The button below is your personal invite: it works once and expires soon."
)


def _invite_buttons(links: Sequence[str]) -> list[LinkButton]:
    if len(links) == 1:
        return [LinkButton("Join the members' chat", links[0])]
    return [LinkButton(f"Join members' chat {n}", link) for n, link in enumerate(links, start=1)]


class MessageComposer:
    """Reads what earlier steps issued (invite links) and asks for billing-portal links, to build messages."""

    def __init__(self, db: Database, portal_links: PortalLinks | None) -> None:
        self._db = db
        self._portal_links = portal_links

    async def compose(self, job: Job) -> OutgoingMessage | None:
        row = job.row
        if row.kind == OutboxKind.ACCESS:
            links = await self._links_of(row.id, job.target)
            return OutgoingMessage(_ACCESS_READY_TEXT, tuple(_invite_buttons(links))) if links else None
        payload = row.payload or {}
        text = str(payload.get("text") or "").strip()
        if not text:
            raise DeliveryRejected("the message has no text")
        buttons: list[LinkButton] = []
        for spec in payload.get("buttons") or []:
            if spec.get("url"):
                buttons.append(LinkButton(str(spec["label"]), str(spec["url"])))
            elif spec.get("action") == "portal" and row.member_id is not None:
                url = await self._portal_link(row.member_id)
                if url:
                    buttons.append(LinkButton(str(spec["label"]), url))
        if payload.get("template") == "welcome" and row.member_id is not None:
            companion = await self._companion_access_row(row)
            if companion is not None:
                buttons = _invite_buttons(await self._links_of(companion, job.target)) + buttons
        return OutgoingMessage(text, tuple(buttons))

    async def _portal_link(self, member_id: int) -> str | None:
        if self._portal_links is None:
            return None
        try:
            return await self._portal_links(member_id)
        except Exception:
            log.warning("no billing-portal link for member %d; sending without it", member_id, exc_info=True)
            return None

    async def _companion_access_row(self, row: DueRow) -> int | None:
        async with self._db.read() as conn:
            return await conn.scalar(
                sa.select(outbox.c.id)
                .where(
                    outbox.c.member_id == row.member_id,
                    outbox.c.kind == OutboxKind.ACCESS.value,
                    outbox.c.created_at == row.created_at,
                    outbox.c.id < row.id,
                )
                .order_by(outbox.c.id.desc())
                .limit(1)
            )

    async def _links_of(self, outbox_id: int, target: str) -> list[str]:
        d = outbox_deliveries
        async with self._db.read() as conn:
            return list(
                await conn.scalars(
                    sa.select(d.c.detail)
                    .where(
                        d.c.outbox_id == outbox_id,
                        d.c.target == target,
                        d.c.step.like("grant:%"),
                        d.c.status == DeliveryStatus.DONE.value,
                        d.c.detail.is_not(None),
                    )
                    .order_by(d.c.position)
                )
            )

    async def unrevoked_links(self, target: str, resource: str) -> list[str]:
        """Links issued to `target` for the resource since its last completed revoke."""
        d = outbox_deliveries
        async with self._db.read() as conn:
            steps = await conn.execute(
                sa.select(d.c.outbox_id, d.c.step, d.c.detail).where(
                    d.c.target == target,
                    d.c.step.in_([f"grant:{resource}", f"revoke:{resource}"]),
                    d.c.status == DeliveryStatus.DONE.value,
                )
            )
            steps = steps.all()
        last_revoke = max((s.outbox_id for s in steps if s.step.startswith("revoke:")), default=0)
        return [s.detail for s in steps if s.step.startswith("grant:") and s.detail and s.outbox_id > last_revoke]
