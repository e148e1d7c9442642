"""The Discord adapter: slash commands generated from the table, called with mocked interactions."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from unittest.mock import MagicMock

import discord
import pytest
import sqlalchemy as sa

from bots.commands import COMMANDS
from bots.discord_adapter import CommandButton, DiscordAdapter
from bots.permissions import Platform
from storefront.app import App
from storefront.clock import ManualClock
from storefront.db.tables import outbox
from storefront.standins.stripe_api import StripeStandIn
from tests.bots.conftest import ADMIN_DISCORD, DISCORD_FAN, FAN_ROLE, an_interaction, slash, snapshot
from tests.helpers import outbox_rows


def test_every_table_command_but_start_is_a_slash_command(discord_bot: DiscordAdapter) -> None:
    names = sorted(command.name for command in discord_bot.tree.get_commands())

    assert names == sorted(c.name for c in COMMANDS.for_platform(Platform.DISCORD))
    assert "start" not in names


def test_subscribe_schema_offers_the_catalog_tiers_and_the_billing_period(discord_bot: DiscordAdapter) -> None:
    schema = discord_bot.tree.get_command("subscribe").to_dict(discord_bot.tree)

    tier, billing = schema["options"]
    assert (tier["name"], tier["type"], tier["required"]) == ("tier", 3, True)
    assert [c["value"] for c in tier["choices"]] == ["fan", "creator", "brand"]
    assert (billing["name"], billing["required"]) == ("billing", False)
    assert [c["value"] for c in billing["choices"]] == ["monthly", "annual"]
    assert schema["default_member_permissions"] is None


def test_admin_commands_are_hidden_from_members_without_manage_server(discord_bot: DiscordAdapter) -> None:
    schema = discord_bot.tree.get_command("grant").to_dict(discord_bot.tree)

    assert schema["default_member_permissions"] == discord.Permissions(manage_guild=True).value
    days = next(option for option in schema["options"] if option["name"] == "days")
    assert (days["type"], days["min_value"], days["max_value"], days["required"]) == (4, 1, 3650, False)


async def test_a_command_is_deferred_then_answered_privately(discord_bot: DiscordAdapter) -> None:
    interaction = an_interaction(discord_bot, DISCORD_FAN)

    text = await slash(discord_bot, "tiers", interaction)

    assert text.startswith("**Membership tiers**\nFan: $5.00/month")
    interaction.response.send_message.assert_not_awaited()


async def test_buttons_survive_restarts_with_stable_custom_ids(discord_bot: DiscordAdapter) -> None:
    interaction = an_interaction(discord_bot, DISCORD_FAN)

    await slash(discord_bot, "tiers", interaction)

    view: discord.ui.View = interaction.followup.send.await_args.kwargs["view"]
    assert view.timeout is None
    assert view.is_persistent()
    assert [item.custom_id for item in view.children][:2] == ["sf:subscribe fan", "sf:subscribe fan annual"]


async def test_pressing_a_button_after_a_restart_runs_its_command(
    discord_bot: DiscordAdapter, stripe_api: StripeStandIn
) -> None:
    # A fresh adapter (as after a restart) rebuilds the button from its custom id alone.
    pressed = discord.ui.Button(label="Join Fan", custom_id="sf:subscribe fan")
    match = re.fullmatch(CommandButton.__discord_ui_compiled_template__, "sf:subscribe fan")
    interaction = an_interaction(discord_bot, DISCORD_FAN)

    button = await CommandButton.from_custom_id(interaction, pressed, match)
    await button.callback(interaction)

    interaction.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
    [session] = stripe_api.created_checkout_sessions()
    assert session["client_reference_id"] == f"discord:{DISCORD_FAN}"
    view = interaction.followup.send.await_args.kwargs["view"]
    assert [(item.label, item.url) for item in view.children] == [("Pay on Stripe", session["url"])]


async def test_subscribe_on_discord_ties_the_checkout_to_the_discord_identity(
    discord_bot: DiscordAdapter, stripe_api: StripeStandIn
) -> None:
    text = await slash(discord_bot, "subscribe", an_interaction(discord_bot, DISCORD_FAN), tier="fan", billing="annual")

    [session] = stripe_api.created_checkout_sessions()
    assert session["client_reference_id"] == f"discord:{DISCORD_FAN}"
    assert text.startswith("**Fan: $50.00/year**")


async def test_a_member_without_permissions_is_refused_an_admin_command(
    discord_bot: DiscordAdapter, app: App, stripe_api: StripeStandIn
) -> None:
    before = await snapshot(app, stripe_api)

    text = await slash(
        discord_bot, "grant", an_interaction(discord_bot, DISCORD_FAN), identity="discord:5", tier="brand"
    )

    assert text == "Sorry, /grant is only for the team running this shop; nothing was changed."
    assert await snapshot(app, stripe_api) == before


async def test_manage_server_in_another_server_does_not_make_an_admin(discord_bot: DiscordAdapter) -> None:
    elsewhere = an_interaction(discord_bot, DISCORD_FAN, manage_guild=True, guild_id=42)

    text = await slash(discord_bot, "members", elsewhere)

    assert text.startswith("Sorry, /members is only for the team")


@pytest.mark.parametrize(
    "interaction_of",
    [
        lambda bot: an_interaction(bot, DISCORD_FAN, manage_guild=True),
        lambda bot: an_interaction(bot, ADMIN_DISCORD, guild_id=None),
    ],
    ids=["server manager", "configured admin id in a DM"],
)
async def test_server_managers_and_configured_admins_may_run_admin_commands(
    discord_bot: DiscordAdapter, interaction_of
) -> None:
    text = await slash(discord_bot, "grant", interaction_of(discord_bot), identity="discord:5", tier="fan", days=7)

    assert text.startswith("**Comp granted**\ndiscord:5 has Fan for free until 28 Sep 2026.")


DISCORD_BAD_ARGUMENTS = [
    (
        "subscribe",
        {"tier": "gold"},
        "Unknown tier 'gold'; choose one of: fan, creator, brand. Usage: /subscribe TIER [annual]",
    ),
    (
        "subscribe",
        {"tier": "fan", "billing": "weekly"},
        "Expected monthly or annual, not 'weekly'. Usage: /subscribe TIER [annual]",
    ),
    (
        "link",
        {"code": "12"},
        "CODE is the 6 letters and digits /link showed on your other account. Usage: /link [CODE]",
    ),
    ("members", {"page": 9}, "There is no page 9; the member list has 1 page"),
    (
        "grant",
        {"identity": "bob", "tier": "fan"},
        "'bob' is not an identity; expected telegram:<user id>, discord:<user id> or stripe:<customer id>. "
        "Usage: /grant IDENTITY TIER [DAYS]",
    ),
    (
        "grant",
        {"identity": "discord:5", "tier": "fan", "days": 0},
        "DAYS must be at least 1. Usage: /grant IDENTITY TIER [DAYS]",
    ),
    ("revoke", {"identity": "discord:5"}, "No member 'discord:5'"),
]


@pytest.mark.parametrize(("name", "options", "answer"), DISCORD_BAD_ARGUMENTS)
async def test_discord_command_with_bad_arguments_answers_one_line_and_changes_nothing(
    discord_bot: DiscordAdapter, app: App, stripe_api: StripeStandIn, name: str, options: dict, answer: str
) -> None:
    before = await snapshot(app, stripe_api)

    text = await slash(discord_bot, name, an_interaction(discord_bot, ADMIN_DISCORD), **options)

    assert text == answer
    assert "\n" not in text
    assert await snapshot(app, stripe_api) == before


def a_member(user_id: int, joined_at: datetime, guild_id: int) -> MagicMock:
    member = MagicMock(spec=discord.Member)
    member.id, member.bot, member.joined_at = user_id, False, joined_at
    member.guild = MagicMock(id=guild_id)
    return member


async def test_a_member_who_rejoins_the_server_gets_the_role_back_once_per_join(
    discord_bot: DiscordAdapter, app: App, clock: ManualClock
) -> None:
    await slash(
        discord_bot,
        "grant",
        an_interaction(discord_bot, ADMIN_DISCORD),
        identity=f"discord:{DISCORD_FAN}",
        tier="fan",
    )
    rows_before = len(await outbox_rows(app, "access"))
    joined = datetime(2026, 9, 22, 8, 0, tzinfo=UTC)

    await discord_bot.client.on_member_join(a_member(DISCORD_FAN, joined, discord_bot.guild_id))
    await discord_bot.client.on_member_join(a_member(DISCORD_FAN, joined, discord_bot.guild_id))  # same join, twice

    access = await outbox_rows(app, "access")
    assert len(access) == rows_before + 1
    assert access[-1]["payload"]["grant"] == {"discord_role_ids": [FAN_ROLE], "telegram_chat_ids": []}
    assert access[-1]["payload"]["revoke"] == {"discord_role_ids": [], "telegram_chat_ids": []}
    assert joined.isoformat() in access[-1]["key"]


async def test_someone_without_a_tier_joining_the_server_queues_nothing(discord_bot: DiscordAdapter, app: App) -> None:
    await discord_bot.on_member_join(a_member(DISCORD_FAN, datetime(2026, 9, 22, tzinfo=UTC), discord_bot.guild_id))

    async with app.db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(outbox)) == 0
