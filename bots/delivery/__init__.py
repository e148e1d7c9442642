"""Deliverers of the outbox for each chat platform (see `storefront.outbox_delivery`).

Imported lazily, so a process that runs only one platform does not load the other's library.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bots.delivery.discord import DiscordDeliverer
    from bots.delivery.telegram import MessageRateLimiter, TelegramDeliverer, telegram_rate_limiter

__all__ = ["DiscordDeliverer", "MessageRateLimiter", "TelegramDeliverer", "telegram_rate_limiter"]

_HOMES = {
    "DiscordDeliverer": "bots.delivery.discord",
    "MessageRateLimiter": "bots.delivery.telegram",
    "TelegramDeliverer": "bots.delivery.telegram",
    "telegram_rate_limiter": "bots.delivery.telegram",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
