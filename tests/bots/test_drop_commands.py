"""Drop commands through the one table: creators schedule drops, fans claim, get a Stripe link or a clear no."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import discord
import pytest

import bots.commands_drops  # noqa: F401  (declares /drop, /claim, /waitlist, /notify on the table)
from bots.discord_adapter import CommandButton, DiscordAdapter
from bots.services import BotServices
from drops import DropInput, DropService, DropView
from storefront.app import App
from storefront.clock import ManualClock
from storefront.standins.stripe_api import StripeStandIn
from tests.bots.conftest import (
    ADMIN_TELEGRAM,
    DISCORD_FAN,
    FAN,
    OTHER_FAN,
    TelegramChats,
    an_interaction,
    only_text,
    slash,
)
from tests.drops.builders import open_now


@pytest.fixture(autouse=True)
async def drops(app: App, services: BotServices) -> AsyncIterator[DropService]:
    """The app's drop service, reachable from the bot services, with its claim writer running."""
    services.drops = app.drops  # type: ignore[attr-defined]
    app.drops.start()
    yield app.drops
    await app.drops.stop()


async def a_drop(drops: DropService, *, supply: int = 3, per_person_limit: int = 1) -> DropView:
    spec = DropInput.parse(
        title="Midnight print",
        price="15.00 USD",
        supply=supply,
        opens_at=drops.clock.now() + timedelta(hours=1),
        per_person_limit=per_person_limit,
    )
    return await drops.create(spec, creator="telegram:9001")


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [button for row in message.get("reply_markup", {}).get("inline_keyboard", []) for button in row]


def in_an_hour_in_paris(clock: ManualClock) -> str:
    """An opening time as a creator in Paris types it (ISO with the +01:00 offset)."""
    moment = (clock.now() + timedelta(hours=1)).astimezone(ZoneInfo("Europe/Paris"))
    return moment.strftime("%Y-%m-%dT%H:%M%z")


# --- creators on Telegram ------------------------------------------------------------------------------------


async def test_creator_schedules_a_drop_with_a_time_zone(
    telegram: TelegramChats, drops: DropService, clock: ManualClock
) -> None:
    opens = in_an_hour_in_paris(clock)

    text = only_text(
        await telegram.say(
            ADMIN_TELEGRAM, f'/drop create "Midnight print" 15.00USD 100 {opens} early=creator limit=2 about="Signed"'
        )
    )

    [drop] = await drops.list_drops()
    assert (drop.title, drop.supply, drop.per_person_limit, str(drop.price)) == ("Midnight print", 100, 2, "15.00 USD")
    assert drop.opens_at == clock.now().replace(second=0, microsecond=0) + timedelta(hours=1)
    assert drop.created_by == f"telegram:{ADMIN_TELEGRAM}"
    assert [access.tier for access in drop.early_access] == ["creator"]
    assert text.startswith(f"Drop scheduled: #{drop.id} Midnight print · 15.00 USD")
    assert "Opens in" in text and "Early access: Creator" in text


async def test_a_time_without_zone_is_refused_in_one_line_and_nothing_is_created(
    telegram: TelegramChats, drops: DropService
) -> None:
    text = only_text(await telegram.say(ADMIN_TELEGRAM, '/drop create "Midnight print" 15.00USD 100 2026-12-01T18:00'))

    assert text == (
        "Opens at: '2026-12-01T18:00' has no time zone; write it like 2026-12-01 18:00 Europe/Paris "
        "or 2026-12-01T18:00+01:00"
    )
    assert await drops.list_drops(include_ended=True) == []


async def test_a_fan_cannot_create_drops(telegram: TelegramChats, drops: DropService, clock: ManualClock) -> None:
    text = only_text(await telegram.say(FAN, f'/drop create "Mine" 1.00USD 1 {in_an_hour_in_paris(clock)}'))

    assert text == "Sorry, /drop is only for the team running this shop; nothing was changed."
    assert await drops.list_drops(include_ended=True) == []


async def test_creator_lists_shows_edits_and_cancels_a_drop(telegram: TelegramChats, drops: DropService) -> None:
    drop = await a_drop(drops, supply=3)

    listed = only_text(await telegram.say(ADMIN_TELEGRAM, "/drop list"))
    edited = only_text(await telegram.say(ADMIN_TELEGRAM, f"/drop edit {drop.id} supply=5 limit=2"))
    shown = only_text(await telegram.say(ADMIN_TELEGRAM, f"/drop show #{drop.id}"))
    cancelled = only_text(await telegram.say(ADMIN_TELEGRAM, f"/drop cancel {drop.id}"))

    assert listed.splitlines()[1].startswith(f"#{drop.id} Midnight print · 15.00 USD · Opens in 1 h 00 min")
    assert edited.startswith(f"Drop updated: #{drop.id}") and "Supply 5: 0 sold" in edited
    assert "Per person: 2" in shown
    assert cancelled.startswith(f"Cancelled: #{drop.id} Midnight print")
    assert (await drops.get(drop.id)).phase.value == "cancelled"


async def test_editing_an_open_drop_is_refused_in_one_line(
    telegram: TelegramChats, drops: DropService, clock: ManualClock
) -> None:
    drop = await a_drop(drops)
    open_now(clock, drop)

    text = only_text(await telegram.say(ADMIN_TELEGRAM, f"/drop edit {drop.id} supply=10"))

    assert text == "“Midnight print” can no longer be changed: it is open."
    assert (await drops.get(drop.id)).supply == 3


# --- fans on Telegram ----------------------------------------------------------------------------------------


async def test_a_fan_claims_and_gets_a_stripe_checkout_link_for_the_hold(
    telegram: TelegramChats, drops: DropService, clock: ManualClock, stripe_api: StripeStandIn
) -> None:
    drop = await a_drop(drops)
    open_now(clock, drop)

    [message] = await telegram.say(FAN, f"/claim {drop.id}")

    [hold] = await drops.holds_of(f"telegram:{FAN}")
    [session] = stripe_api.created_checkout_sessions()
    assert session["metadata"]["hold_id"] == hold.id and session["mode"] == "payment"
    assert message["text"].startswith("Reserved: Midnight print")
    assert f"held for you until {hold.expires_at.strftime('%H:%M UTC')} (10 min)" in message["text"]
    assert [(b["text"], b.get("url")) for b in buttons(message)] == [("Pay on Stripe", session["url"])]


async def test_claiming_before_the_opening_is_refused_in_one_line(telegram: TelegramChats, drops: DropService) -> None:
    drop = await a_drop(drops)

    text = only_text(await telegram.say(FAN, f"/claim {drop.id}"))

    assert text.startswith("“Midnight print” is not open yet: it opens")
    assert await drops.holds_of(f"telegram:{FAN}") == []


async def test_sold_out_answers_with_the_waitlist_button_and_no_hold(
    telegram: TelegramChats, drops: DropService, clock: ManualClock
) -> None:
    drop = await a_drop(drops, supply=1)
    open_now(clock, drop)
    await telegram.say(FAN, f"/claim {drop.id}")

    [message] = await telegram.say(OTHER_FAN, f"/claim {drop.id}")

    assert message["text"].splitlines()[0] == "Sold out"
    assert await drops.holds_of(f"telegram:{OTHER_FAN}") == []
    joined = only_text(await telegram.press(OTHER_FAN, message, "Join the waitlist"))
    assert joined.startswith("On the waitlist\nYou are number 1 in line.")
    assert [spot.identity for spot in await drops.waitlist(drop.id)] == [f"telegram:{OTHER_FAN}"]


async def test_second_claim_by_same_person_is_refused_and_shows_the_same_link(
    telegram: TelegramChats, drops: DropService, clock: ManualClock, stripe_api: StripeStandIn
) -> None:
    drop = await a_drop(drops, supply=5, per_person_limit=1)
    open_now(clock, drop)
    await telegram.say(FAN, f"/claim {drop.id}")

    [message] = await telegram.say(FAN, f"/claim {drop.id}")

    assert "You already have 1 unit of “Midnight print”, the most one person can get." in message["text"]
    assert len(await drops.holds_of(f"telegram:{FAN}")) == 1
    [session] = stripe_api.created_checkout_sessions()  # the same link again, no second session
    assert [b.get("url") for b in buttons(message)] == [session["url"]]
    assert (await drops.get(drop.id)).available == 4


async def test_notify_me_opts_in_once(telegram: TelegramChats, drops: DropService) -> None:
    drop = await a_drop(drops)

    first = only_text(await telegram.say(FAN, f"/notify {drop.id}"))
    again = only_text(await telegram.say(FAN, f"/notify {drop.id}"))

    assert "I will remind you before it opens." in first
    assert "You are already on the reminder list." in again
    assert await drops.subscribers(drop.id) == [f"telegram:{FAN}"]


async def test_an_unknown_drop_is_one_line(telegram: TelegramChats) -> None:
    assert only_text(await telegram.say(FAN, "/claim 404")) == "There is no drop #404."


# --- Discord ---------------------------------------------------------------------------------------------------


def test_drop_schema_offers_the_actions_and_a_details_field(discord_bot: DiscordAdapter) -> None:
    schema = discord_bot.tree.get_command("drop").to_dict(discord_bot.tree)

    action, details = schema["options"]
    assert action["name"] == "action" and action["required"] is False
    assert [choice["value"] for choice in action["choices"]] == ["create", "list", "show", "edit", "cancel"]
    assert details["name"] == "details" and details["type"] == discord.AppCommandOptionType.string.value
    assert schema["default_member_permissions"] == discord.Permissions(manage_guild=True).value
    claim = discord_bot.tree.get_command("claim").to_dict(discord_bot.tree)
    assert [(o["name"], o["type"], o["required"]) for o in claim["options"]] == [("drop_id", 4, True)]


async def test_the_persistent_claim_button_claims_for_the_discord_member(
    discord_bot: DiscordAdapter, drops: DropService, clock: ManualClock, stripe_api: StripeStandIn
) -> None:
    drop = await a_drop(drops)
    open_now(clock, drop)
    custom_id = f"sf:claim {drop.id}"
    interaction = an_interaction(discord_bot, DISCORD_FAN)
    match = re.fullmatch(CommandButton.__discord_ui_compiled_template__, custom_id)

    button = await CommandButton.from_custom_id(
        interaction, discord.ui.Button(label="Claim", custom_id=custom_id), match
    )
    await button.callback(interaction)

    interaction.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
    [hold] = await drops.holds_of(f"discord:{DISCORD_FAN}")
    [session] = stripe_api.created_checkout_sessions()
    assert session["metadata"]["hold_id"] == hold.id
    view = interaction.followup.send.await_args.kwargs["view"]
    assert [(item.label, item.url) for item in view.children] == [("Pay on Stripe", session["url"])]


async def test_slash_claim_on_discord_when_sold_out_offers_the_waitlist(
    discord_bot: DiscordAdapter, drops: DropService, clock: ManualClock
) -> None:
    drop = await a_drop(drops, supply=1)
    open_now(clock, drop)
    await drops.claim(drop.id, "telegram:1")
    interaction = an_interaction(discord_bot, DISCORD_FAN)

    text = await slash(discord_bot, "claim", interaction, drop_id=drop.id)

    assert text.startswith("**Sold out**\n“Midnight print” is sold out.")
    view = interaction.followup.send.await_args.kwargs["view"]
    assert [item.custom_id for item in view.children] == [f"sf:waitlist {drop.id}"]
