"""The Telegram rate limiter: a 429 halts every call until its deadline, and calls resume at the pace, not at once.

Each callback here stands where python-telegram-bot's HTTP request would be, and raises what it raises on a 429.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter

from bots.delivery.telegram_pace import TelegramRateLimiter, telegram_rate_limiter

HALT = timedelta(seconds=0.3)


async def _call(limiter: TelegramRateLimiter, callback, endpoint: str = "sendMessage", chat_id: int = 1):
    return await limiter.process_request(callback, (), {}, endpoint, {"chat_id": chat_id}, None)


class _FloodedOnce:
    """Answers 429 (retry after HALT) the first time, then succeeds; notes when the 429 came."""

    def __init__(self) -> None:
        self.refused_at: float | None = None

    async def __call__(self) -> str:
        if self.refused_at is None:
            self.refused_at = asyncio.get_running_loop().time()
            raise RetryAfter(HALT)
        return "sent after the halt"


async def _sent_at() -> float:
    return asyncio.get_running_loop().time()


async def test_a_halt_holds_every_call_even_when_a_call_already_under_way_finishes():
    limiter = telegram_rate_limiter(1000, max_retries=1)
    flooded = _FloodedOnce()

    async def under_way() -> str:
        await asyncio.sleep(0.05)  # was past the limiter when the 429 came, and finishes during the halt
        return "done"

    slow = asyncio.create_task(_call(limiter, under_way, chat_id=1))
    await asyncio.sleep(0.01)
    retried = asyncio.create_task(_call(limiter, flooded, chat_id=2))
    await asyncio.sleep(0.1)
    later_sent_at = await _call(limiter, _sent_at, chat_id=3)

    assert await slow == "done"
    assert await retried == "sent after the halt"
    assert flooded.refused_at is not None
    assert later_sent_at >= flooded.refused_at + HALT.total_seconds()


async def test_calls_that_waited_out_a_halt_leave_at_the_pace_not_all_at_once():
    per_second = 100
    limiter = telegram_rate_limiter(per_second, max_retries=1)
    flooded = _FloodedOnce()
    retried = asyncio.create_task(_call(limiter, flooded, chat_id=1))
    await asyncio.sleep(0.01)
    waiting = [asyncio.create_task(_call(limiter, _sent_at, chat_id=chat)) for chat in range(2, 22)]

    sent = sorted(await asyncio.gather(*waiting))
    await retried

    assert flooded.refused_at is not None
    assert sent[0] >= flooded.refused_at + HALT.total_seconds()
    burst, period = limiter.overall.max_rate, limiter.overall.time_period
    # After the burst, each call waits its turn in the bucket: 20 calls need (20 - burst) refills at least.
    assert sent[-1] - sent[0] >= (len(sent) - burst - 1) * period / burst


async def test_a_call_out_of_retries_raises_the_429_and_still_halts_the_others():
    limiter = telegram_rate_limiter(1000, max_retries=0)

    async def flooded() -> None:
        raise RetryAfter(HALT)

    refused_at = asyncio.get_running_loop().time()
    with pytest.raises(RetryAfter):
        await _call(limiter, flooded, chat_id=1)
    assert await _call(limiter, _sent_at, chat_id=2) >= refused_at + HALT.total_seconds()


async def test_only_messages_count_against_a_groups_budget_so_kicks_are_not_slowed_to_its_pace():
    limiter = TelegramRateLimiter(AsyncLimiter(1000, 1), group_max_rate=1, group_time_period=60, max_retries=0)
    group = -100123

    async def answered() -> bool:
        return True

    assert await _call(limiter, answered, "sendMessage", group)  # the group's one message a minute
    for _ in range(5):
        assert await asyncio.wait_for(_call(limiter, answered, "banChatMember", group), 10)
        assert await asyncio.wait_for(_call(limiter, answered, "unbanChatMember", group), 10)

    with pytest.raises(TimeoutError):  # a second message waits for the group's budget
        await asyncio.wait_for(_call(limiter, answered, "sendMessage", group), 0.2)
