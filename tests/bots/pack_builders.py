"""Builders for the pack and license command tests: members with a tier, packs from bytes, documents a person
sends on Telegram, attachments on Discord, and a snapshot of everything the pack commands could change."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import discord
import sqlalchemy as sa

from entitlements.asset_tables import assets, exclusive_locks, license_purchases, pack_deliveries, packs
from entitlements.comps import grant_comp
from entitlements.packs import PackFile, PackSummary
from storefront.app import App
from storefront.standins.stripe_api import StripeStandIn
from storefront.standins.telegram_bot_api import TelegramBotApiStandIn
from tests.bots.conftest import snapshot

MONTH = "2026-09"  # the tests' clock is at 21 Sep 2026: this month's pack has gone out (on the 1st)


async def a_member(app: App, identity: str, tier: str = "fan") -> None:
    """A member with `tier` (a comp: the quickest honest way to a tier without a Stripe history)."""
    async with app.db.write() as conn:
        await grant_comp(
            conn,
            app.memberships,
            identity=identity,
            tier_key=tier,
            days=None,
            granted_by="test",
            now=app.clock.now(),
        )


def photo(number: int, size: int = 2048) -> bytes:
    return bytes([number % 256]) * size


async def a_pack(app: App, month: str = MONTH, *, files: int = 3) -> PackSummary:
    made = [PackFile(f"photo-{n}.jpg", photo(n), title=f"Photo {n}") for n in range(1, files + 1)]
    return await app.packs.add_pack(month, made)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def a_document(
    api: TelegramBotApiStandIn, user_id: int, caption: str, name: str, data: bytes, mime: str | None = "image/png"
) -> dict[str, Any]:
    """A Telegram update: `user_id` sends the file `name` as a document captioned `caption` in their chat with
    the bot. The file is held by the stand-in, so the bot downloads it with getFile like any other."""
    update = api.push_message(user_id, user_id, caption)
    message = update["message"]
    message["caption"] = message.pop("text")
    message["caption_entities"] = message.pop("entities", [])
    stored = api._store_file("documents", data, name, mime)  # the stand-in has no public "a user uploads" yet
    message["document"] = stored.as_document()
    return update


def an_attachment(name: str, data: bytes, *, size: int | None = None) -> MagicMock:
    """A file attached to a Discord slash command option."""
    attachment = MagicMock(spec=discord.Attachment)
    attachment.filename = name
    attachment.size = len(data) if size is None else size
    attachment.content_type = "image/png"
    attachment.read = AsyncMock(return_value=data)
    return attachment


_PACK_TABLES = (packs, assets, pack_deliveries, license_purchases, exclusive_locks)


async def everything(app: App, stripe_api: StripeStandIn | None = None) -> dict[str, Any]:
    """The chat snapshot, plus packs, files, deliveries, license purchases and the blob store's files."""
    state = await snapshot(app, stripe_api)
    async with app.db.read() as conn:
        for table in _PACK_TABLES:
            rows = await conn.execute(sa.select(table).order_by(*table.primary_key.columns))
            state[table.name] = [tuple(row) for row in rows]
    state["blobs"] = await asyncio.to_thread(_files_under, Path(app.settings.blob_dir))
    return state


def _files_under(directory: Path) -> list[str]:
    return sorted(str(path) for path in directory.rglob("*")) if directory.exists() else []
