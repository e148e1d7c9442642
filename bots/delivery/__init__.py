"""Deliverers of the outbox for each chat platform (see `storefront.outbox_delivery`).

Imported lazily, so a process that runs only one platform does not load the other's library.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bots.delivery.discord import DiscordDeliverer
    from bots.delivery.telegram import TelegramDeliverer
    from bots.delivery.telegram_pace import TelegramRateLimiter, telegram_rate_limiter

__all__ = ["DiscordDeliverer", "TelegramDeliverer", "TelegramRateLimiter", "telegram_rate_limiter"]

_HOMES = {
    "DiscordDeliverer": "bots.delivery.discord",
    "TelegramDeliverer": "bots.delivery.telegram",
    "TelegramRateLimiter": "bots.delivery.telegram_pace",
    "telegram_rate_limiter": "bots.delivery.telegram_pace",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
