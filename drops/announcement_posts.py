"""Where each drop's current announcement was posted, kept as rows so a restarted bot still edits it in place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from drops.models import DropPhase
from drops.tables import drop_announcement_posts, drops
from storefront.db import Database

__all__ = ["AnnouncementPosts", "LiveAnnouncement", "PostedMessage"]

_posts = drop_announcement_posts


@dataclass(frozen=True)
class PostedMessage:
    """Where an announcement was posted, so it can be edited later."""

    target: str  # e.g. "telegram:-100123" or "discord:456"
    message_id: int


@dataclass(frozen=True)
class LiveAnnouncement:
    """The messages of one drop's current announcement, what they show and when they were last written."""

    drop_id: int
    messages: tuple[PostedMessage, ...]
    shown: str
    written_at: datetime


class AnnouncementPosts:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def announced(
        self,
        drop_id: int,
        phase: DropPhase,
        messages: Sequence[PostedMessage],
        shown: str,
        now: datetime,
        *,
        keep_editing: bool,
    ) -> LiveAnnouncement | None:
        """Record that `phase` of the drop is announced in `messages`; the announcement this one replaces.

        With `keep_editing` the new messages become the drop's live announcement (its countdown is kept current);
        a final phase has nothing left to count down, so its messages are not kept.
        """
        async with self._db.write() as conn:
            previous = _live_of(
                await conn.execute(sa.delete(_posts).where(_posts.c.drop_id == drop_id).returning(_posts))
            )
            if keep_editing and messages:
                await conn.execute(
                    sa.insert(_posts),
                    [
                        {
                            "drop_id": drop_id,
                            "target": message.target,
                            "message_id": message.message_id,
                            "shown": shown,
                            "written_at": now,
                        }
                        for message in messages
                    ],
                )
            await conn.execute(sa.update(drops).where(drops.c.id == drop_id).values(announced_phase=phase.value))
        return previous[0] if previous else None

    async def live(self) -> list[LiveAnnouncement]:
        """Every drop's current announcement whose countdown is still kept current."""
        async with self._db.read() as conn:
            return _live_of(await conn.execute(sa.select(_posts).order_by(_posts.c.drop_id, _posts.c.target)))

    async def rewritten(self, drop_id: int, shown: str, now: datetime) -> None:
        """The drop's live announcement was edited to show `shown`."""
        async with self._db.write() as conn:
            await conn.execute(sa.update(_posts).where(_posts.c.drop_id == drop_id).values(shown=shown, written_at=now))


def _live_of(rows: sa.CursorResult[sa.Any]) -> list[LiveAnnouncement]:
    by_drop: dict[int, list[sa.Row[sa.Any]]] = {}
    for row in rows:
        by_drop.setdefault(row.drop_id, []).append(row)
    return [
        LiveAnnouncement(
            drop_id,
            tuple(PostedMessage(row.target, row.message_id) for row in drop_rows),
            drop_rows[0].shown,
            drop_rows[0].written_at,
        )
        for drop_id, drop_rows in by_drop.items()
    ]
