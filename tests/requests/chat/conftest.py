"""The chat side's fixtures (Stripe stand-in app, Telegram Bot API stand-in, Discord adapter) for the request tests."""

from __future__ import annotations

import bots.commands_requests  # noqa: F401  (declares the commands on the table, as bots/commands.py will)
from tests.bots.conftest import (  # noqa: F401
    app,
    discord_bot,
    services,
    stripe_api,
    telegram,
    telegram_api,
)
