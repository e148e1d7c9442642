"""`/churn [months]` for admins: the summary as text and the chart as an image, on Telegram and Discord."""

from __future__ import annotations

import pytest

from bots.discord_adapter import DiscordAdapter
from storefront.app import App
from storefront.demo.stripe_events import StripeEvents
from tests.bots.conftest import (
    ADMIN_DISCORD,
    ADMIN_TELEGRAM,
    DISCORD_FAN,
    FAN,
    TelegramChats,
    an_interaction,
    only_text,
    slash,
)
from tests.helpers import WebhookSender

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def members(webhook: WebhookSender, events: StripeEvents, app: App) -> None:
    """Three Fan members whose subscriptions Stripe reports: two paying, one of them cancelling at period end."""
    for number, cancelling in ((1, False), (2, True), (3, False)):
        sub = events.subscription(
            sub_id=f"sub_{number}",
            customer=f"cus_{number}",
            member=f"telegram:{500 + number}",
            price_id="price_demo_fan_month",
            unit_amount=500,
            status="trialing" if number == 3 else "active",
            cancel_at_period_end=cancelling,
            cancellation={"reason": "cancellation_requested", "feedback": "too_expensive", "comment": None}
            if cancelling
            else None,
        )
        assert (await webhook.send(events.event("customer.subscription.created", sub))).status == 200
    await app.worker.drain()


async def test_churn_answers_an_admin_with_the_summary_and_a_chart(telegram: TelegramChats, members: None) -> None:
    text, chart = await telegram.say(ADMIN_TELEGRAM, "/churn 3")

    assert text["text"].startswith(
        "Churn report, 2026-07 to 2026-09\nThis month 2026-09: 2 paying (+2 new, +0 back, -0 churned"
    )
    assert "Last month 2026-08: 0 paying" in text["text"]
    assert "MRR 10.00 USD" in text["text"]
    assert text["text"].endswith("At risk now: 0 past due, 1 canceling")
    assert "photo" in chart
    [upload] = telegram.api.calls_to("sendPhoto")[0].uploads.values()
    assert upload.data.startswith(PNG)
    assert upload.filename == "churn-2026-09.png"


async def test_churn_on_discord_attaches_the_chart(discord_bot: DiscordAdapter, members: None) -> None:
    interaction = an_interaction(discord_bot, ADMIN_DISCORD)

    text = await slash(discord_bot, "churn", interaction)

    assert text.startswith("**Churn report, 2025-10 to 2026-09**\nThis month 2026-09: 2 paying")
    [chart] = interaction.followup.send.await_args.kwargs["files"]
    assert chart.filename == "churn-2026-09.png"
    assert chart.fp.read().startswith(PNG)


def test_churn_on_discord_is_for_server_managers_and_takes_1_to_60_months(discord_bot: DiscordAdapter) -> None:
    schema = discord_bot.tree.get_command("churn").to_dict(discord_bot.tree)

    [months] = schema["options"]
    assert (months["name"], months["type"], months["required"]) == ("months", 4, False)
    assert (months["min_value"], months["max_value"]) == (1, 60)
    assert schema["default_member_permissions"] == 32  # Manage Server


async def test_a_fan_asking_for_churn_is_refused_and_gets_no_chart(
    telegram: TelegramChats, discord_bot: DiscordAdapter
) -> None:
    refused = "Sorry, /churn is only for the team running this shop; nothing was changed."

    assert only_text(await telegram.say(FAN, "/churn")) == refused
    interaction = an_interaction(discord_bot, DISCORD_FAN)
    assert await slash(discord_bot, "churn", interaction) == refused
    assert "files" not in interaction.followup.send.await_args.kwargs
    assert telegram.api.count("sendPhoto") == 0


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("/churn 0", "MONTHS must be at least 1. Usage: /churn [MONTHS]"),
        ("/churn 61", "MONTHS must be at most 60. Usage: /churn [MONTHS]"),
        ("/churn year", "MONTHS must be a whole number. Usage: /churn [MONTHS]"),
        ("/churn 3 now", "Too many arguments. Usage: /churn [MONTHS]"),
    ],
)
async def test_churn_with_bad_months_answers_one_line_without_a_chart(
    telegram: TelegramChats, text: str, answer: str
) -> None:
    assert only_text(await telegram.say(ADMIN_TELEGRAM, text)) == answer
    assert telegram.api.count("sendPhoto") == 0
