"""python-telegram-bot's own bot and rate limiter, on the HTTP path production uses, pointed at a Bot API stand-in."""

from __future__ import annotations

from telegram.ext import ExtBot

from bots.delivery.telegram_pace import telegram_rate_limiter
from bots.telegram_http import AiohttpRequest

TELEGRAM_TOKEN = "7654321:AAH-delivery-test-token"


def a_telegram_bot(
    base_url: str, *, messages_per_second: int = 30, max_retries: int = 0, pool_size: int = 16
) -> ExtBot:
    return ExtBot(
        TELEGRAM_TOKEN,
        base_url=f"{base_url}/bot",
        base_file_url=f"{base_url}/file/bot",
        request=AiohttpRequest(pool_size),
        rate_limiter=telegram_rate_limiter(messages_per_second, max_retries=max_retries),
    )
