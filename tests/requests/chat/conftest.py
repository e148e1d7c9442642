"""The chat side's fixtures for the request tests: the requests app (Stripe stand-in, moto S3) from the parent
conftest, with the Telegram Bot API stand-in and the Discord adapter of the bot tests."""

from __future__ import annotations

import pytest

import bots.commands_requests  # noqa: F401  (declares the commands on the table, as bots/commands.py does)
from bots.permissions import Policy
from bots.services import BotServices
from storefront.app import App
from tests.bots.conftest import ADMIN_DISCORD, ADMIN_TELEGRAM, discord_bot, telegram, telegram_api  # noqa: F401


@pytest.fixture
def services(app: App) -> BotServices:
    return BotServices.from_app(app, policy=Policy.of(telegram=[ADMIN_TELEGRAM], discord=[ADMIN_DISCORD]))
