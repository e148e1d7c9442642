"""The Telegram bot, driven through python-telegram-bot's real request path against the Bot API stand-in."""

from __future__ import annotations

import pytest
from telegram import BotCommandScopeChat

from bots.services import BotServices
from bots.telegram_adapter import TelegramAdapter
from storefront.app import App
from storefront.clock import ManualClock
from storefront.members import ensure_member
from storefront.standins.stripe_api import StripeStandIn
from tests.bots.conftest import ADMIN_TELEGRAM, FAN, TOKEN, TelegramChats, only_text, snapshot

GROUP = -1009999999999


async def test_start_welcomes_the_fan_with_the_tiers_and_join_buttons(telegram: TelegramChats) -> None:
    [reply] = await telegram.say(FAN, "/start")

    assert "Fan: $5.00/month or $50.00/year, 7-day free trial" in reply["text"]
    assert "/subscribe TIER [annual]" in reply["text"]
    assert "/grant" not in reply["text"]  # admin commands are not advertised to fans
    keyboard = reply["reply_markup"]["inline_keyboard"]
    assert keyboard[0] == [
        {"text": "Join Fan", "callback_data": "sf:subscribe fan"},
        {"text": "Fan yearly", "callback_data": "sf:subscribe fan annual"},
    ]


async def test_admins_see_their_commands_in_start(telegram: TelegramChats) -> None:
    reply = only_text(await telegram.say(ADMIN_TELEGRAM, "/start"))

    assert "/grant IDENTITY TIER [DAYS]" in reply


async def test_command_menus_show_fan_commands_to_all_and_admin_commands_to_admins(telegram: TelegramChats) -> None:
    await telegram.bot.publish_commands()

    bot = telegram.bot.application.bot
    everyone = [c.command for c in await bot.get_my_commands()]
    admin = [c.command for c in await bot.get_my_commands(scope=BotCommandScopeChat(ADMIN_TELEGRAM))]
    fan_commands = ["start", "tiers", "subscribe", "me", "manage", "link"]
    shop_commands = ["claim", "waitlist", "notify", "packs", "license"]
    request_commands = ["request", "myrequests"]
    creator_requests = ["requests", "request_accept", "request_start", "request_decline", "request_deliver"]
    assert everyone == [*fan_commands, *shop_commands, *request_commands]
    assert admin == [
        *fan_commands,
        "members",
        "grant",
        "revoke",
        "pack",
        "churn",
        "drop",
        *shop_commands,
        *request_commands,
        *creator_requests,
    ]


async def test_subscribe_answers_with_a_stripe_checkout_link_for_that_person(
    telegram: TelegramChats, stripe_api: StripeStandIn
) -> None:
    [reply] = await telegram.say(FAN, "/subscribe fan")

    [session] = stripe_api.created_checkout_sessions()
    [[button]] = reply["reply_markup"]["inline_keyboard"]
    assert button == {"text": "Pay on Stripe", "url": session["url"]}
    assert session["client_reference_id"] == f"telegram:{FAN}"
    assert reply["text"].startswith("Fan: $5.00/month\nStarts with a 7-day free trial")


async def test_pressing_a_join_button_runs_subscribe_for_whoever_pressed_it(
    telegram: TelegramChats, stripe_api: StripeStandIn
) -> None:
    [tiers] = await telegram.say(FAN, "/tiers")

    [reply] = await telegram.press(FAN, tiers, "Fan yearly")

    [session] = stripe_api.created_checkout_sessions()
    assert session["client_reference_id"] == f"telegram:{FAN}"
    assert session["amount_total"] == 5000
    assert reply["text"].startswith("Fan: $50.00/year")
    assert telegram.api.calls_to("answerCallbackQuery")[0].ok


async def test_a_personal_command_in_a_group_points_to_a_private_chat_and_changes_nothing(
    telegram: TelegramChats, app: App, stripe_api: StripeStandIn
) -> None:
    before = await snapshot(app, stripe_api)

    reply = only_text(await telegram.say(FAN, "/subscribe fan", chat_id=GROUP))

    assert reply == "Please send /subscribe to me in a private chat; your details stay between us."
    assert await snapshot(app, stripe_api) == before


async def test_tiers_work_in_a_group(telegram: TelegramChats) -> None:
    reply = only_text(await telegram.say(FAN, "/tiers@storefront_test_bot", chat_id=GROUP))

    assert reply.startswith("Membership tiers\nFan: $5.00/month")


async def test_an_admin_command_from_a_fan_is_refused_politely_and_changes_nothing(
    telegram: TelegramChats, app: App, stripe_api: StripeStandIn
) -> None:
    before = await snapshot(app, stripe_api)

    reply = only_text(await telegram.say(FAN, f"/grant telegram:{FAN} brand 30"))

    assert reply == "Sorry, /grant is only for the team running this shop; nothing was changed."
    assert await snapshot(app, stripe_api) == before


async def test_a_configured_admin_can_grant_a_comp(telegram: TelegramChats) -> None:
    reply = only_text(await telegram.say(ADMIN_TELEGRAM, f"/grant telegram:{FAN} creator 30"))

    assert reply.startswith("Comp granted\ntelegram:1001 has Creator for free until 21 Oct 2026.")
    assert only_text(await telegram.say(FAN, "/me")).startswith("Your membership\nTier: Creator\n")


FAN_BAD_ARGUMENTS = [
    ("/start a b", "Too many arguments. Usage: /start [PAYLOAD]"),
    ("/tiers all", "Too many arguments. Usage: /tiers"),
    ("/subscribe", "Missing TIER. Usage: /subscribe TIER [annual]"),
    ("/subscribe gold", "Unknown tier 'gold'; choose one of: fan, creator, brand. Usage: /subscribe TIER [annual]"),
    ("/subscribe fan weekly", "Expected monthly or annual, not 'weekly'. Usage: /subscribe TIER [annual]"),
    ("/subscribe fan annual now", "Too many arguments. Usage: /subscribe TIER [annual]"),
    ("/subscribe f@n", "TIER does not look right. Usage: /subscribe TIER [annual]"),
    ("/subscribe creator annual", "Creator is only sold monthly; leave out 'annual'."),
    ("/me now", "Too many arguments. Usage: /me"),
    ("/manage now", "Too many arguments. Usage: /manage"),
    ("/manage", "You have no billing account yet: subscribe first with /subscribe."),
    ("/link 12", "CODE is the 6 letters and digits /link showed on your other account. Usage: /link [CODE]"),
    ("/link ABC234", "That link code is unknown, used or expired; run /link on your other account for a new one."),
    ("/link ABC234 ABC235", "Too many arguments. Usage: /link [CODE]"),
]

ADMIN_BAD_ARGUMENTS = [
    ("/members 0", "PAGE must be at least 1. Usage: /members [PAGE]"),
    ("/members two", "PAGE must be a whole number. Usage: /members [PAGE]"),
    ("/members 3", "There is no page 3; the member list has 1 page"),
    ("/grant", "Missing IDENTITY. Usage: /grant IDENTITY TIER [DAYS]"),
    ("/grant telegram:1001", "Missing TIER. Usage: /grant IDENTITY TIER [DAYS]"),
    (
        "/grant bob fan",
        "'bob' is not an identity; expected telegram:<user id>, discord:<user id> or stripe:<customer id>. "
        "Usage: /grant IDENTITY TIER [DAYS]",
    ),
    (
        "/grant telegram:1001 gold",
        "Unknown tier 'gold'; choose one of: fan, creator, brand. Usage: /grant IDENTITY TIER [DAYS]",
    ),
    ("/grant telegram:1001 fan 0", "DAYS must be at least 1. Usage: /grant IDENTITY TIER [DAYS]"),
    ("/grant telegram:1001 fan 5000", "DAYS must be at most 3650. Usage: /grant IDENTITY TIER [DAYS]"),
    ("/grant telegram:1001 fan ten", "DAYS must be a whole number. Usage: /grant IDENTITY TIER [DAYS]"),
    ("/grant telegram:1001 fan 10 more", "Too many arguments. Usage: /grant IDENTITY TIER [DAYS]"),
    ("/revoke", "Missing IDENTITY. Usage: /revoke IDENTITY"),
    (
        "/revoke 1001",
        "'1001' is not an identity; expected telegram:<user id>, discord:<user id> or stripe:<customer id>. "
        "Usage: /revoke IDENTITY",
    ),
    ("/revoke telegram:555", "No member 'telegram:555'"),
    ("/revoke telegram:1001", "No comp to revoke for telegram:1001 (paid memberships are changed in Stripe, not here)"),
]


@pytest.mark.parametrize(("text", "answer"), FAN_BAD_ARGUMENTS)
async def test_fan_command_with_bad_arguments_answers_one_line_and_changes_nothing(
    telegram: TelegramChats, app: App, stripe_api: StripeStandIn, clock: ManualClock, text: str, answer: str
) -> None:
    async with app.db.write() as conn:
        await ensure_member(conn, f"telegram:{FAN}", clock.now())
    before = await snapshot(app, stripe_api)

    reply = only_text(await telegram.say(FAN, text))

    assert reply == answer
    assert "\n" not in reply
    assert await snapshot(app, stripe_api) == before


@pytest.mark.parametrize(("text", "answer"), ADMIN_BAD_ARGUMENTS)
async def test_admin_command_with_bad_arguments_answers_one_line_and_changes_nothing(
    telegram: TelegramChats, app: App, stripe_api: StripeStandIn, clock: ManualClock, text: str, answer: str
) -> None:
    async with app.db.write() as conn:
        await ensure_member(conn, f"telegram:{FAN}", clock.now())
    before = await snapshot(app, stripe_api)

    reply = only_text(await telegram.say(ADMIN_TELEGRAM, text))

    assert reply == answer
    assert "\n" not in reply
    assert await snapshot(app, stripe_api) == before


async def test_the_bot_paces_under_telegrams_limits_in_any_sliding_second(services: BotServices) -> None:
    bot = TelegramAdapter.build(TOKEN, services, api_base_url="http://127.0.0.1:9/bot")
    limiter = bot.application.bot.rate_limiter

    assert (limiter.overall.max_rate, limiter.overall.time_period) == (1, pytest.approx(1 / 29))
    assert (limiter._group_max_rate, limiter._group_time_period) == (1, pytest.approx(60 / 19))
    assert limiter._max_retries == 3
    assert bot.application.bot.base_url == f"http://127.0.0.1:9/bot{TOKEN}"
