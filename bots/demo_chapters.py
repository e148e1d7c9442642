"""The chat chapters of the demo: a Telegram fan subscribes in chat, pays, links Discord; admins are checked.

python-telegram-bot runs through its real HTTP path against the local Bot API stand-in; the Discord adapter is
driven through its slash-command callbacks with a stand-in interaction (there is no offline Discord).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import discord
import sqlalchemy as sa
from telegram import Update

from bots.discord_adapter import DiscordAdapter
from bots.permissions import Policy
from bots.services import BotServices
from bots.telegram_adapter import TelegramAdapter
from storefront.catalog import Catalog
from storefront.db.tables import outbox
from storefront.demo.world import DemoWorld
from storefront.standins.stripe_api import StripeStandIn
from storefront.standins.telegram_bot_api import RateLimits, TelegramBotApiStandIn
from storefront.stripe_fixtures import load_fixture

__all__ = ["DemoInteraction", "bots_chapters", "stock_stripe_catalog"]

_TOKEN = "424242:AAStandInTokenForTheDemo_000000000000"
FAN_TELEGRAM, FAN_DISCORD, ADMIN_TELEGRAM, STRANGER_DISCORD = 2001, 3001, 9001, 3999
GUILD = 1200000000000000001
_CUSTOMER, _SUBSCRIPTION = "cus_demo_bea", "sub_demo_bea"


def stock_stripe_catalog(stripe_api: StripeStandIn, catalog: Catalog) -> None:
    """Give the Stripe stand-in the catalog's products and recurring prices, with the catalog's ids."""
    for tier in catalog.tiers.values():
        product_id = tier.stripe_product_id or f"prod_{tier.key}"
        product = load_fixture("product")
        product.update(id=product_id, name=tier.name, active=True)
        stripe_api.put_product(product)
        for interval in ("month", "year"):
            price_id, amount = tier.price_id(interval), tier.amount(interval)
            if price_id is None or amount is None:
                continue
            price = load_fixture("price")
            price.update(
                id=price_id,
                product=product_id,
                currency=tier.currency,
                unit_amount=amount,
                unit_amount_decimal=str(amount),
                type="recurring",
                active=True,
                transform_quantity=None,
                custom_unit_amount=None,
            )
            price["recurring"].update(interval=interval, interval_count=1)
            stripe_api.put_price(price)


@dataclass
class DemoInteraction:
    """Just enough of a `discord.Interaction` for the adapter: who, where, and the two answering calls."""

    user_id: int
    guild_id: int | None = GUILD
    manages_server: bool = False
    sent: list[dict[str, Any]] = field(default_factory=list)
    deferred: bool = False

    def __post_init__(self) -> None:
        self.user = SimpleNamespace(id=self.user_id, display_name=f"user {self.user_id}")
        self.permissions = discord.Permissions(manage_guild=self.manages_server)
        self.response = SimpleNamespace(defer=self._defer)
        self.followup = SimpleNamespace(send=self._send)

    async def _defer(self, *, ephemeral: bool = False, thinking: bool = False) -> None:
        self.deferred = True

    async def _send(self, content: str, *, ephemeral: bool = False, view: discord.ui.View | None = None) -> None:
        self.sent.append({"content": content, "ephemeral": ephemeral, "view": view})


@dataclass
class _Chat:
    """A fan's Telegram chat with the bot, typed into through the stand-in."""

    api: TelegramBotApiStandIn
    bot: TelegramAdapter
    user_id: int

    async def type(self, text: str) -> list[dict[str, Any]]:
        before = len(self.api.sent_messages(self.user_id))
        update = self.api.push_message(self.user_id, self.user_id, text)
        await self.bot.application.process_update(Update.de_json(update, self.bot.application.bot))
        return self.api.sent_messages(self.user_id)[before:]


def _show(say: Callable[[str], None], who: str, messages: list[dict[str, Any]]) -> None:
    for message in messages:
        for line in message["text"].splitlines():
            say(f"      {who} <- {line}" if line else "")
        for row in message.get("reply_markup", {}).get("inline_keyboard", []):
            say("      " + "   ".join(f"[{b['text']}]" for b in row))


async def _discord(adapter: DiscordAdapter, name: str, interaction: DemoInteraction, **options: Any) -> str:
    command = adapter.tree.get_command(name)
    assert command is not None
    await command.callback(interaction, **options)
    return interaction.sent[-1]["content"]


async def _outbox_count(world: DemoWorld) -> int:
    async with world.app.db.read() as conn:
        return await conn.scalar(sa.select(sa.func.count()).select_from(outbox)) or 0


async def subscribe_in_chat(world: DemoWorld) -> None:
    say = world.say
    stock_stripe_catalog(world.stripe_api, world.app.catalog)
    services = BotServices.from_app(world.app, policy=Policy.of(telegram=[ADMIN_TELEGRAM]))
    # Fans type slower than Telegram's 1 message/s per chat; the demo types at machine speed, so that limit is off.
    limits = RateLimits(per_chat_per_second=None)
    async with TelegramBotApiStandIn(_TOKEN, clock=world.clock, limits=limits) as api:
        api.add_user(FAN_TELEGRAM, first_name="Bea")
        telegram = TelegramAdapter.build(_TOKEN, services, api_base_url=api.base_url)
        async with telegram.application:
            chat = _Chat(api, telegram, FAN_TELEGRAM)
            await _telegram_fan(world, chat)
            discord_bot = DiscordAdapter(services, guild_id=GUILD)
            await _link_discord(world, chat, discord_bot)
            await _admins_only(world, chat, discord_bot)
    say("")


async def _telegram_fan(world: DemoWorld, chat: _Chat) -> None:
    say, member = world.say, f"telegram:{FAN_TELEGRAM}"
    say("Chat 1. Bea opens the bot on Telegram (python-telegram-bot over HTTP to a local Bot API stand-in)")
    say("    Bea: /tiers")
    _show(say, "bot", await chat.type("/tiers"))
    say("    Bea: /subscribe fan")
    _show(say, "bot", await chat.type("/subscribe fan"))
    request = next(r for r in reversed(world.stripe_api.requests) if r.path == "/v1/checkout/sessions")
    params = request.params
    say(
        f"  -> Stripe Checkout session: client_reference_id={params['client_reference_id']}, "
        f"subscription_data.metadata.member={params['subscription_data']['metadata']['member']}, "
        f"trial {params['subscription_data'].get('trial_period_days', 0)} days, "
        f"promotion codes {params['allow_promotion_codes']}"
    )
    say("  Bea pays on Stripe; Stripe's signed webhooks arrive at the real endpoint:")
    trial_end = int(world.clock.now().timestamp()) + 7 * 86400
    completed = world.events.checkout_session(
        mode="subscription",
        client_reference_id=member,
        customer=_CUSTOMER,
        subscription=_SUBSCRIPTION,
        amount_total=0,
    )
    created = world.events.subscription(
        sub_id=_SUBSCRIPTION,
        customer=_CUSTOMER,
        member=member,
        price_id="price_demo_fan_month",
        unit_amount=500,
        status="trialing",
        trial_end=trial_end,
        current_period_end=trial_end,
    )
    for event_type, obj in (("checkout.session.completed", completed), ("customer.subscription.created", created)):
        status = await world.deliver(world.events.event(event_type, obj))
        say(f"  -> {event_type} answered {status}")
    say("    Bea: /me")
    _show(say, "bot", await chat.type("/me"))


async def _link_discord(world: DemoWorld, chat: _Chat, discord_bot: DiscordAdapter) -> None:
    say = world.say
    say("Chat 2. Bea links her Discord account, so the same membership gives her the Discord role")
    say("    Bea on Telegram: /link")
    messages = await chat.type("/link")
    _show(say, "bot", messages)
    code = messages[-1]["text"].split("Your code: ")[1].split()[0]
    interaction = DemoInteraction(FAN_DISCORD)
    say(f"    Bea on Discord: /link code:{code}")
    content = await _discord(discord_bot, "link", interaction, code=code)
    say(f"      (deferred within 3 s: {interaction.deferred}, private reply: {interaction.sent[-1]['ephemeral']})")
    for line in content.splitlines():
        say(f"      bot <- {line}")
    say("    Bea on Discord: /me")
    for line in (await _discord(discord_bot, "me", DemoInteraction(FAN_DISCORD))).splitlines():
        say(f"      bot <- {line}")
    await world.show_member(f"discord:{FAN_DISCORD}")
    async with world.app.db.read() as conn:
        queued = (
            await conn.execute(
                sa.select(outbox.c.payload).where(outbox.c.kind == "access").order_by(outbox.c.id.desc())
            )
        ).first()
    if queued is not None:
        say(f"  -> queued for delivery to her Discord account: grant {queued.payload['grant']}")


async def _admins_only(world: DemoWorld, chat: _Chat, discord_bot: DiscordAdapter) -> None:
    say = world.say
    say("Chat 3. Admin commands check who is asking; anyone else is refused and nothing happens")
    before = await _outbox_count(world)
    say("    Bea on Telegram: /grant telegram:2001 brand 30")
    _show(say, "bot", await chat.type("/grant telegram:2001 brand 30"))
    stranger = DemoInteraction(STRANGER_DISCORD)
    say("    A stranger on Discord: /grant identity:discord:3999 tier:brand")
    for line in (await _discord(discord_bot, "grant", stranger, identity="discord:3999", tier="brand")).splitlines():
        say(f"      bot <- {line}")
    say(f"  -> outbox rows before and after: {before} -> {await _outbox_count(world)}")
    manager = DemoInteraction(FAN_DISCORD + 7, manages_server=True)
    say("    A server manager on Discord: /grant identity:discord:3008 tier:creator days:30")
    content = await _discord(discord_bot, "grant", manager, identity="discord:3008", tier="creator", days=30)
    for line in content.splitlines():
        say(f"      bot <- {line}")
    say("    The same manager: /subscribe tier:gold (a bad argument: one line, nothing changed)")
    for line in (await _discord(discord_bot, "subscribe", manager, tier="gold")).splitlines():
        say(f"      bot <- {line}")


Chapter = Callable[[DemoWorld], Awaitable[None]]


def bots_chapters() -> list[Chapter]:
    return [subscribe_in_chat]
