"""`run_bots`: the configured bots and the outbox delivery run in the app's event loop and stop cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pydantic import SecretStr

from bots.runtime import run_bots
from storefront.app import App
from storefront.config import Settings
from storefront.demo.stripe_events import StripeEvents
from storefront.errors import ConfigError
from storefront.standins.telegram_bot_api import RateLimits, TelegramBotApiStandIn
from tests.bots.conftest import FAN, TOKEN
from tests.bots.test_end_to_end import pay_checkout
from tests.helpers import WebhookSender


@pytest.fixture
async def telegram_server(clock: Any) -> AsyncIterator[TelegramBotApiStandIn]:
    async with TelegramBotApiStandIn(TOKEN, clock=clock, limits=RateLimits(per_chat_per_second=None)) as api:
        yield api


@pytest.fixture
def settings(settings: Settings, telegram_server: TelegramBotApiStandIn) -> Settings:
    """The suite's settings plus a Telegram bot whose Bot API is the stand-in."""
    return settings.model_copy(
        update={"telegram_bot_token": SecretStr(TOKEN), "telegram_api_base_url": telegram_server.base_url}
    )


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Wait for something the running bot does in the background (long polling, delivery)."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - the stand-ins record calls but offer no event to wait on
            await asyncio.sleep(0.01)


async def test_a_fan_talks_to_the_running_bot_pays_and_is_welcomed_once(
    app: App, telegram_server: TelegramBotApiStandIn, webhook: WebhookSender, events: StripeEvents, stripe_api: Any
) -> None:
    async with run_bots(app, telegram_poll_timeout=1) as bots:
        assert bots.telegram is not None and bots.discord is None and bots.delivery is not None
        telegram_server.push_message(FAN, FAN, "/subscribe fan")
        await until(lambda: len(telegram_server.sent_messages(FAN)) == 1)
        [session] = stripe_api.created_checkout_sessions()
        params = next(r.params for r in stripe_api.requests if r.path == "/v1/checkout/sessions")

        await pay_checkout(webhook, events, app, session, params)
        bots.delivery.wake()
        await until(lambda: any("Welcome to Fan" in m["text"] for m in telegram_server.sent_messages(FAN)))
        telegram_server.push_message(FAN, FAN, "/me")
        await until(lambda: telegram_server.sent_messages(FAN)[-1]["text"].startswith("Your membership"))

    texts = [message["text"] for message in telegram_server.sent_messages(FAN)]
    assert sum("Welcome to Fan" in text for text in texts) == 1
    assert "Tier: Fan" in texts[-1]
    assert telegram_server.count("createChatInviteLink", outcome="ok") == 1
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "outbox-delivery"]


async def test_with_no_bot_tokens_nothing_is_started(app: App) -> None:
    plain = App(app.settings.model_copy(update={"telegram_bot_token": None}), clock=app.clock)
    async with run_bots(plain) as bots:
        assert (bots.telegram, bots.discord, bots.delivery) == (None, None, None)
    await plain.close()


async def test_a_discord_token_without_a_server_id_stops_with_one_clear_line(app: App) -> None:
    settings = app.settings.model_copy(update={"telegram_bot_token": None, "discord_bot_token": SecretStr("x.y.z")})
    broken = App(settings, clock=app.clock)
    with pytest.raises(ConfigError, match="DISCORD_GUILD_ID must be set with DISCORD_BOT_TOKEN"):
        async with run_bots(broken):
            pass
    await broken.close()
