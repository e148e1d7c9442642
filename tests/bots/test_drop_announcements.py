"""Drop announcements: posted once per phase in every channel, countdowns kept current with paced edits."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import AsyncMock, MagicMock

import discord
import pytest

from bots.drop_announcements import DiscordChannel, DropAnnouncer, TelegramChannel
from drops import DropInput, DropService, DropView
from storefront.app import App
from storefront.clock import ManualClock
from storefront.standins.telegram_bot_api import TelegramBotApiStandIn
from tests.bots.conftest import TelegramChats

CHANNEL = -1002000000001
DISCORD_CHANNEL = 1300000000000000001


async def a_drop(drops: DropService) -> DropView:
    spec = DropInput.parse(
        title="Midnight print", price="15.00 USD", supply=2, opens_at=drops.clock.now() + timedelta(hours=1)
    )
    return await drops.create(spec, creator="telegram:9001")


@pytest.fixture
def discord_channel() -> MagicMock:
    channel = MagicMock(spec=discord.TextChannel)
    channel.send = AsyncMock(return_value=MagicMock(id=555))
    channel.get_partial_message = MagicMock(return_value=MagicMock(edit=AsyncMock()))
    return channel


@pytest.fixture
def announcer(
    app: App, telegram: TelegramChats, telegram_api: TelegramBotApiStandIn, discord_channel: MagicMock
) -> DropAnnouncer:
    telegram_api.add_chat(CHANNEL, type="channel", title="Drops")
    client = MagicMock(spec=discord.Client)
    client.get_channel = MagicMock(return_value=discord_channel)
    targets = [
        TelegramChannel(telegram.bot.application.bot, CHANNEL),
        DiscordChannel(client, DISCORD_CHANNEL),
    ]
    return DropAnnouncer(app.drops, targets, app.clock, edit_every=timedelta(seconds=60))


async def test_an_announcement_is_posted_once_in_each_channel_and_marked(
    app: App, announcer: DropAnnouncer, telegram_api: TelegramBotApiStandIn, discord_channel: MagicMock
) -> None:
    drop = await a_drop(app.drops)

    assert await announcer.post_due() == 1
    assert await announcer.post_due() == 0

    [post] = telegram_api.sent_messages(CHANNEL)
    assert post["text"].startswith("Midnight print · 15.00 USD\nOpens in 1 h 00 min")
    [[notify]] = post["reply_markup"]["inline_keyboard"]
    assert (notify["text"], notify["callback_data"]) == ("Notify me", f"sf:notify {drop.id}")
    discord_channel.send.assert_awaited_once()
    view = discord_channel.send.await_args.kwargs["view"]
    assert [item.custom_id for item in view.children] == [f"sf:notify {drop.id}"]
    assert await app.drops.announcements_due() == []


def restarted(announcer: DropAnnouncer, app: App) -> DropAnnouncer:
    """The announcer of a new bot process on the same channels: it knows only what the database kept."""
    return DropAnnouncer(app.drops, list(announcer.targets.values()), app.clock, edit_every=announcer.edit_every)


@pytest.mark.parametrize("restart_after_posting", [False, True])
async def test_the_countdown_is_edited_in_place_at_most_once_a_minute(
    app: App,
    clock: ManualClock,
    announcer: DropAnnouncer,
    telegram_api: TelegramBotApiStandIn,
    restart_after_posting: bool,
) -> None:
    await a_drop(app.drops)
    await announcer.post_due()
    [post] = telegram_api.sent_messages(CHANNEL)
    if restart_after_posting:
        announcer = restarted(announcer, app)
        assert await announcer.post_due() == 0

    clock.advance(timedelta(seconds=30))
    assert await announcer.refresh_countdowns() == 0  # too soon for this message
    clock.advance(timedelta(minutes=10))
    assert await announcer.refresh_countdowns() == 2  # the Telegram post and the Discord post
    clock.advance(timedelta(seconds=59))
    assert await announcer.refresh_countdowns() == 0

    shown = telegram_api.message(CHANNEL, post["message_id"])
    assert shown is not None and "Opens in 50 min" in shown["text"]
    assert len(telegram_api.sent_messages(CHANNEL)) == 1


@pytest.mark.parametrize("restart_after_posting", [False, True])
async def test_the_opening_is_announced_with_a_claim_button(
    app: App,
    clock: ManualClock,
    announcer: DropAnnouncer,
    telegram_api: TelegramBotApiStandIn,
    restart_after_posting: bool,
) -> None:
    drop = await a_drop(app.drops)
    await announcer.post_due()
    clock.set(drop.opens_at + timedelta(seconds=1))
    if restart_after_posting:
        announcer = restarted(announcer, app)

    assert await announcer.post_due() == 1

    opening = telegram_api.sent_messages(CHANNEL)[-1]
    assert "Open now: 2 of 2 left" in opening["text"]
    labels = [button["text"] for row in opening["reply_markup"]["inline_keyboard"] for button in row]
    assert labels == ["Claim"]
    first = telegram_api.message(CHANNEL, telegram_api.sent_messages(CHANNEL)[0]["message_id"])
    assert first is not None and "Open now" in first["text"]  # the older post no longer offers "Notify me"
