"""Fixtures for the chat side: the app with a Stripe stand-in, the Telegram bot on the Bot API stand-in, the
Discord adapter with mocked interactions, and a snapshot of everything a command could change."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import discord
import pytest
import sqlalchemy as sa
from telegram import Update

from bots.demo_chapters import stock_stripe_catalog
from bots.discord_adapter import DiscordAdapter
from bots.permissions import Policy
from bots.services import BotServices
from bots.telegram_adapter import TelegramAdapter
from storefront.app import App
from storefront.clock import ManualClock
from storefront.config import Settings
from storefront.db.chat_tables import checkout_sessions, comps, link_codes, member_merges
from storefront.db.tables import billing_events, identities, members, outbox, subscriptions
from storefront.standins.stripe_api import StripeStandIn
from storefront.standins.telegram_bot_api import RateLimits, TelegramBotApiStandIn
from storefront.stripe_fixtures import load_fixture
from storefront.stripe_gateway import StripeGateway

TOKEN = "5550001:AAStandInTokenForBotTests_000000000000"
BOT_ID = 5550001
FAN = 1001
OTHER_FAN = 1002
ADMIN_TELEGRAM = 9001
ADMIN_DISCORD = 8001
DISCORD_FAN = 7001
GUILD = 1200000000000000001
FAN_CHAT = -1001000000001  # the members' channel of the Fan and Creator tiers in the demo catalog
FAN_ROLE = 1100000000000000001
# Loading the CA bundle for every HTTP client costs ~0.1-0.3 s; the tests' bots share one context.
SHARED_SSL_CONTEXT = ssl.create_default_context()


@pytest.fixture
async def stripe_api(clock: ManualClock) -> AsyncIterator[StripeStandIn]:
    async with StripeStandIn(clock=clock, rate_limit=None) as api:
        yield api


@pytest.fixture
async def app(settings: Settings, clock: ManualClock, stripe_api: StripeStandIn) -> AsyncIterator[App]:
    """The conftest app, with a Stripe gateway pointed at the stand-in (stocked with the catalog's prices)."""
    gateway = StripeGateway("sk_test_bots", api_base=stripe_api.base_url, sleep=_no_sleep)
    application = App(settings, clock=clock, stripe=gateway)
    stock_stripe_catalog(stripe_api, application.catalog)
    await application.migrate()
    yield application
    await application.close()


async def _no_sleep(seconds: float) -> None:
    return None


def a_customer(stripe_api: StripeStandIn, customer_id: str) -> None:
    customer = load_fixture("customer")
    customer.update(id=customer_id)
    stripe_api.put_customer(customer)


@pytest.fixture
def services(app: App) -> BotServices:
    policy = Policy.of(telegram=[ADMIN_TELEGRAM], discord=[ADMIN_DISCORD])
    return BotServices.from_app(app, policy=policy)


# --- Telegram ------------------------------------------------------------------------------------------------


@dataclass
class TelegramChats:
    """Type into Telegram chats as a person; the bot handles the update through PTB's real request path."""

    api: TelegramBotApiStandIn
    bot: TelegramAdapter

    async def _handle(self, update: dict[str, Any]) -> None:
        await self.bot.application.process_update(Update.de_json(update, self.bot.application.bot))

    async def say(self, user_id: int, text: str, *, chat_id: int | None = None) -> list[dict[str, Any]]:
        """What the bot sent to the chat in answer to `text`."""
        chat = chat_id if chat_id is not None else user_id
        before = len(self.api.sent_messages(chat))
        await self._handle(self.api.push_message(chat, user_id, text))
        return self.api.sent_messages(chat)[before:]

    async def press(self, user_id: int, message: dict[str, Any], label: str) -> list[dict[str, Any]]:
        """Press the inline button `label` of `message`."""
        buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row if b["text"] == label]
        assert buttons, f"no button {label!r}"
        chat = message["chat"]["id"]
        before = len(self.api.sent_messages(chat))
        await self._handle(self.api.push_callback_query(user_id, buttons[0]["callback_data"], message=message))
        return self.api.sent_messages(chat)[before:]

    async def handle(self, update: dict[str, Any]) -> None:
        await self._handle(update)


@pytest.fixture
async def telegram_api(clock: ManualClock) -> AsyncIterator[TelegramBotApiStandIn]:
    # Tests type faster than a person; the per-chat flood limit (1/s) would only slow them down.
    async with TelegramBotApiStandIn(TOKEN, clock=clock, limits=RateLimits(per_chat_per_second=None)) as api:
        yield api


@pytest.fixture
async def telegram(telegram_api: TelegramBotApiStandIn, services: BotServices) -> AsyncIterator[TelegramChats]:
    bot = TelegramAdapter.build(TOKEN, services, api_base_url=telegram_api.base_url, ssl_context=SHARED_SSL_CONTEXT)
    async with bot.application:
        yield TelegramChats(telegram_api, bot)


def only_text(messages: list[dict[str, Any]]) -> str:
    """The single message the bot answered, as text."""
    assert len(messages) == 1, messages
    return messages[0]["text"]


# --- Discord -------------------------------------------------------------------------------------------------


@pytest.fixture
def discord_bot(services: BotServices) -> DiscordAdapter:
    return DiscordAdapter(services, guild_id=GUILD)


def an_interaction(
    bot: DiscordAdapter, user_id: int, *, manage_guild: bool = False, guild_id: int | None = GUILD
) -> MagicMock:
    interaction = MagicMock(spec=discord.Interaction)
    interaction.user = MagicMock(id=user_id, display_name=f"user {user_id}")
    interaction.guild_id = guild_id
    interaction.permissions = discord.Permissions(manage_guild=manage_guild)
    interaction.client = bot.client
    interaction.response = MagicMock()
    interaction.response.defer = AsyncMock()
    interaction.response.send_message = AsyncMock()
    interaction.followup = MagicMock()
    interaction.followup.send = AsyncMock()
    return interaction


async def slash(bot: DiscordAdapter, name: str, interaction: MagicMock, **options: Any) -> str:
    """Run a slash command's callback as Discord would; the text of the private follow-up."""
    command = bot.tree.get_command(name)
    assert command is not None, name
    await command.callback(interaction, **options)
    interaction.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
    args, kwargs = interaction.followup.send.await_args
    assert kwargs["ephemeral"] is True
    return args[0]


# --- what a command could change ----------------------------------------------------------------------------

_TABLES = (
    members,
    identities,
    subscriptions,
    billing_events,
    outbox,
    comps,
    link_codes,
    checkout_sessions,
    member_merges,
)


async def snapshot(app: App, stripe_api: StripeStandIn | None = None) -> dict[str, Any]:
    """Every row a command could touch, and the Stripe calls made: equal snapshots mean nothing changed."""
    state: dict[str, Any] = {}
    async with app.db.read() as conn:
        for table in _TABLES:
            rows = await conn.execute(sa.select(table).order_by(*table.primary_key.columns))
            state[table.name] = [tuple(row) for row in rows]
    if stripe_api is not None:
        state["stripe_posts"] = len([r for r in stripe_api.requests if r.method == "POST"])
    return state
