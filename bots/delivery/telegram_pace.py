"""Pacing of Bot API calls under Telegram's flood limits: an overall budget, a per-group budget, 429 halts.

python-telegram-bot's `AIORateLimiter` calls itself a minimal reference and asks for a `BaseRateLimiter` of
one's own for more. Three of its habits cost a fan-out dearly, so this one keeps its buckets (aiolimiter)
and changes the policy around them:

- it charges every call that names a group to that group's budget (20 messages a minute), so kicking
  1,000 members (a ban and an unban each) would take 100 minutes; here only messages count there;
- a 429 halt is released as soon as any other request finishes (PTB issue #5338, fixed after 22.8);
- requests take their budget before they wait out a halt, so when it ends they all leave at once, over the
  limit again, and the next 429 follows; here nothing takes budget during a halt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

__all__ = ["TelegramRateLimiter", "retry_after_seconds", "telegram_rate_limiter"]

log = logging.getLogger(__name__)

_MESSAGE_METHODS = ("send", "edit", "copy", "forward")
_IDLE_GROUPS_KEPT = 512


class TelegramRateLimiter(BaseRateLimiter[int]):
    """Calls naming a chat share `overall`; messages to a group or channel also share that group's budget.

    A `RetryAfter` halts every call for `retry_after` + 0.1 s, then the call is retried (up to
    `max_retries`, or the per-call `rate_limit_args`).
    """

    def __init__(
        self, overall: AsyncLimiter, *, group_max_rate: float, group_time_period: float, max_retries: int
    ) -> None:
        self.overall = overall
        self._group_max_rate = group_max_rate
        self._group_time_period = group_time_period
        self._max_retries = max_retries
        self._groups: dict[int | str, AsyncLimiter] = {}
        self._halted_until = 0.0  # event-loop time; a deadline, so no request can end a halt early

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        max_retries = rate_limit_args or self._max_retries
        chat_id = data.get("chat_id")
        group = _group_of(chat_id) if endpoint.startswith(_MESSAGE_METHODS) else None
        for attempt in range(max_retries + 1):
            await self._admit(counted=chat_id is not None, group=group)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                # Every call waits, also when this one is out of retries: Telegram limits the whole bot.
                pause = retry_after_seconds(error) + 0.1
                log.info("Telegram flood limit hit: every call waits %.1f s", pause)
                self._halted_until = max(self._halted_until, asyncio.get_running_loop().time() + pause)
                if attempt == max_retries:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _admit(self, *, counted: bool, group: int | str | None) -> None:
        """Wait for budget outside any halt; budget granted while a halt began is given up, not spent late."""
        loop = asyncio.get_running_loop()
        while True:
            if (halt := self._halted_until - loop.time()) > 0:
                await asyncio.sleep(halt)  # the deadline may have moved on meanwhile: look again
                continue
            if group is not None and self._group_max_rate:
                await self._group(group).acquire()
            if counted:
                await self.overall.acquire()
            if loop.time() >= self._halted_until:
                return

    def _group(self, group: int | str) -> AsyncLimiter:
        if group not in self._groups and len(self._groups) >= _IDLE_GROUPS_KEPT:
            full = self._group_max_rate
            self._groups = {key: bucket for key, bucket in self._groups.items() if not bucket.has_capacity(full)}
        return self._groups.setdefault(group, AsyncLimiter(self._group_max_rate, self._group_time_period))


def retry_after_seconds(error: RetryAfter) -> float:
    """The wait a 429 asks for, in whichever form (seconds or timedelta) this PTB version gives it."""
    wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


def _group_of(chat_id: object) -> int | str | None:
    """Groups and channels have negative ids or @usernames; users have positive ids."""
    if isinstance(chat_id, str):
        try:
            chat_id = int(chat_id)
        except ValueError:
            return chat_id
    return chat_id if isinstance(chat_id, int) and chat_id < 0 else None


def telegram_rate_limiter(
    messages_per_second: int = 30, group_messages_per_minute: int = 20, max_retries: int = 3
) -> TelegramRateLimiter:
    """Paced to stay under the limits in ANY sliding window, not only in aligned ones.

    aiolimiter's `AsyncLimiter(k, period)` is a bucket of `k` that refills at `k / period` a second, so it admits
    up to `k + k / period` in some second (`AsyncLimiter(N, 1)`: 2N). So a burst of `k` with a refill of
    `N - k - spare` a second sends at most `N - spare` in any second. The spare (2% of the budget) absorbs
    requests that leave evenly but arrive bunched up: one 429 halts every send for a second or more. The
    burst lets the pace catch up after the event loop wakes it late. At 30/s this is one a time, 29/s.
    """
    burst = max(1, messages_per_second // 100)
    spare = messages_per_second // 50
    return TelegramRateLimiter(
        AsyncLimiter(burst, burst / max(1, messages_per_second - burst - spare)),
        group_max_rate=1,
        group_time_period=60 / max(1, group_messages_per_minute - 1),
        max_retries=max_retries,
    )
