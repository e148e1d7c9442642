"""Run the configured bots (those with a token) and the outbox delivery in the current event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bots.delivery.discord import DiscordDeliverer
from bots.delivery.telegram import TelegramDeliverer
from bots.discord_adapter import DiscordAdapter
from bots.drop_announcements import AnnouncementTarget, DiscordChannel, DropAnnouncer, TelegramChannel
from bots.services import BotServices
from bots.telegram_adapter import TelegramAdapter
from storefront.errors import ConfigError
from storefront.outbox_delivery import Deliverer, OutboxDeliveryWorker

if TYPE_CHECKING:
    from storefront.app import App

__all__ = ["RunningBots", "admin_identities", "run_bots"]

log = logging.getLogger(__name__)


@dataclass
class RunningBots:
    services: BotServices
    telegram: TelegramAdapter | None = None
    discord: DiscordAdapter | None = None
    delivery: OutboxDeliveryWorker | None = None


def admin_identities(app: App) -> list[str]:
    """Where admin alerts go: every configured admin, on each platform."""
    settings = app.settings
    return [f"telegram:{i}" for i in settings.admin_telegram_ids] + [f"discord:{i}" for i in settings.admin_discord_ids]


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _drop_announcer(app: App, running: RunningBots) -> DropAnnouncer | None:
    """Posts drop announcements and keeps their countdowns current in the configured channels, if any."""
    settings = app.settings
    targets: list[AnnouncementTarget] = []
    if running.telegram is not None:
        bot = running.telegram.application.bot
        targets += [TelegramChannel(bot, chat_id) for chat_id in settings.drop_announce_telegram_chat_ids]
    if running.discord is not None:
        client = running.discord.client
        targets += [DiscordChannel(client, channel_id) for channel_id in settings.drop_announce_discord_channel_ids]
    if not targets:
        return None
    return DropAnnouncer(
        app.drops, targets, app.clock, edit_every=timedelta(seconds=settings.drop_countdown_edit_seconds)
    )


async def _announce_forever(announcer: DropAnnouncer, every_seconds: float) -> None:
    while True:
        try:
            await announcer.tick()
        except Exception:
            log.exception("drop announcements failed; trying again shortly")
        await asyncio.sleep(every_seconds)


@asynccontextmanager
async def run_bots(
    app: App, *, deliver: bool = True, telegram_poll_timeout: float = 10.0
) -> AsyncIterator[RunningBots]:
    """Start the Telegram bot (TELEGRAM_BOT_TOKEN) and the Discord bot (DISCORD_BOT_TOKEN) and, with `deliver`,
    the outbox delivery through them; stop all of it, newest first, when the block exits."""
    settings = app.settings
    if settings.discord_bot_token is not None and settings.discord_guild_id is None:
        raise ConfigError("DISCORD_GUILD_ID must be set with DISCORD_BOT_TOKEN: member roles live in one server")
    services = BotServices.from_app(app)
    running = RunningBots(services)
    deliverers: dict[str, Deliverer] = {}
    async with AsyncExitStack() as stack:
        if settings.telegram_bot_token is not None:
            telegram = TelegramAdapter.build(
                settings.telegram_bot_token.get_secret_value(), services, api_base_url=settings.telegram_api_base_url
            )
            stack.push_async_callback(telegram.stop)  # also undoes a start that failed halfway
            await telegram.start(poll_timeout=telegram_poll_timeout)
            running.telegram = telegram
            if deliver:
                deliverers["telegram"] = TelegramDeliverer(telegram.application.bot)
        if settings.discord_bot_token is not None:
            assert settings.discord_guild_id is not None
            discord_bot = DiscordAdapter(services, guild_id=settings.discord_guild_id)
            stack.push_async_callback(discord_bot.stop)
            await discord_bot.start(settings.discord_bot_token.get_secret_value())
            running.discord = discord_bot
            if deliver:
                deliverers["discord"] = DiscordDeliverer(discord_bot.client, settings.discord_guild_id)
        if deliverers:
            worker = OutboxDeliveryWorker(
                app.db,
                app.clock,
                deliverers,
                portal_links=services.checkout.portal_for_member,
                admin_identities=admin_identities(app),
            )
            services.outbox_written = worker.wake
            task = asyncio.create_task(worker.run(), name="outbox-delivery")
            stack.push_async_callback(_cancel, task)
            running.delivery = worker
        announcer = _drop_announcer(app, running)
        if announcer is not None:
            task = asyncio.create_task(_announce_forever(announcer, settings.drop_announce_seconds), name="drops")
            stack.push_async_callback(_cancel, task)
        if running.telegram or running.discord:
            log.info("bots running: %s", ", ".join(sorted(p for p in ("telegram", "discord") if getattr(running, p))))
        yield running
