"""Fixtures for outbox delivery: the Telegram and Discord stand-ins, the real clients pointed at them, a worker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import discord
import pytest
import sqlalchemy as sa
from telegram.ext import ExtBot

from bots.delivery import DiscordDeliverer, TelegramDeliverer
from storefront.app import App
from storefront.clock import ManualClock
from storefront.db.delivery_tables import outbox_deliveries
from storefront.db.tables import outbox
from storefront.members import attach_identity, ensure_member
from storefront.outbox import OutboxKind, enqueue
from storefront.outbox_delivery import OutboxDeliveryWorker
from storefront.standins.discord_api import DiscordApiStandIn
from storefront.standins.telegram_bot_api import TelegramBotApiStandIn
from tests.delivery.telegram_client import TELEGRAM_TOKEN, a_telegram_bot

DISCORD_TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMA.delivery.test-token"
GUILD = 1_000_000_000_000_000_001
FAN_ROLE, CREATOR_ROLE, BRAND_ROLE = 1100000000000000001, 1100000000000000002, 1100000000000000003
FAN_CHAT, BRAND_CHAT = -1001000000001, -1001000000002
ADMIN_TELEGRAM = 9001


@pytest.fixture
async def telegram(clock: ManualClock) -> AsyncIterator[TelegramBotApiStandIn]:
    async with TelegramBotApiStandIn(TELEGRAM_TOKEN, clock=clock) as api:
        yield api


@pytest.fixture
async def telegram_bot(telegram: TelegramBotApiStandIn) -> AsyncIterator[ExtBot]:
    async with a_telegram_bot(telegram.base_url) as bot:
        yield bot


@pytest.fixture
async def discord_api() -> AsyncIterator[DiscordApiStandIn]:
    async with DiscordApiStandIn(DISCORD_TOKEN, guild_id=GUILD) as api:
        for position, role in enumerate((FAN_ROLE, CREATOR_ROLE, BRAND_ROLE), start=1):
            api.add_role(role, position=position)
        yield api


@asynccontextmanager
async def a_discord_client(api: DiscordApiStandIn, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[discord.Client]:
    """discord.py's own client and HTTP path, logged in against the stand-in (REST only, no gateway)."""
    monkeypatch.setattr(discord.http.Route, "BASE", api.api_base)
    client = discord.Client(intents=discord.Intents.none())
    await client.login(api.token)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def discord_client(
    discord_api: DiscordApiStandIn, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[discord.Client]:
    async with a_discord_client(discord_api, monkeypatch) as client:
        yield client


@pytest.fixture
def make_worker(app: App, telegram_bot: ExtBot, discord_client: discord.Client) -> Callable[..., OutboxDeliveryWorker]:
    def build(*, per_chat_interval: float = 1.1, **options: Any) -> OutboxDeliveryWorker:
        deliverers = {
            "telegram": TelegramDeliverer(telegram_bot, per_chat_interval=per_chat_interval),
            "discord": DiscordDeliverer(discord_client, GUILD),
        }
        options.setdefault("portal_links", portal_link)
        options.setdefault("admin_identities", [f"telegram:{ADMIN_TELEGRAM}"])
        return OutboxDeliveryWorker(app.db, app.clock, deliverers, **options)

    return build


@pytest.fixture
def worker(make_worker: Callable[..., OutboxDeliveryWorker]) -> OutboxDeliveryWorker:
    return make_worker()


async def portal_link(member_id: int) -> str:
    return f"https://billing.stripe.test/p/session_for_{member_id}"


# --- arranging rows ------------------------------------------------------------------------------------


async def a_member(app: App, *identity_list: str) -> int:
    async with app.db.write() as conn:
        member_id = await ensure_member(conn, identity_list[0], app.clock.now())
        for identity in identity_list[1:]:
            await attach_identity(conn, member_id, identity, app.clock.now())
    return member_id


async def a_message(app: App, member_id: int, text: str, *, key: str | None = None, **payload: Any) -> None:
    async with app.db.write() as conn:
        await enqueue(
            conn,
            key=key or f"test:{member_id}:{text}",
            kind=OutboxKind.NOTIFY,
            payload={"template": "test", "text": text, "buttons": [], **payload},
            now=app.clock.now(),
            member_id=member_id,
        )


async def an_access_change(
    app: App, member_id: int, *, key: str, grant_roles=(), grant_chats=(), revoke_roles=(), revoke_chats=()
) -> None:
    async with app.db.write() as conn:
        await enqueue(
            conn,
            key=key,
            kind=OutboxKind.ACCESS,
            payload={
                "from_tier": None,
                "to_tier": "fan",
                "grant": {"discord_role_ids": list(grant_roles), "telegram_chat_ids": list(grant_chats)},
                "revoke": {"discord_role_ids": list(revoke_roles), "telegram_chat_ids": list(revoke_chats)},
            },
            now=app.clock.now(),
            member_id=member_id,
        )


# --- reading what happened ------------------------------------------------------------------------------


async def deliveries(app: App, **where: Any) -> list[dict[str, Any]]:
    query = sa.select(outbox_deliveries).order_by(outbox_deliveries.c.id)
    for column, value in where.items():
        query = query.where(outbox_deliveries.c[column] == value)
    async with app.db.read() as conn:
        return [row._asdict() for row in await conn.execute(query)]


async def outbox_statuses(app: App) -> dict[str, str]:
    async with app.db.read() as conn:
        return dict((await conn.execute(sa.select(outbox.c.key, outbox.c.status).order_by(outbox.c.id))).all())
