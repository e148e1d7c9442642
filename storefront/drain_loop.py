"""The loop of a background worker: drain what is due, then sleep until woken or until more comes due."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from storefront.clock import Clock

__all__ = ["drain_forever"]

log = logging.getLogger(__name__)


async def drain_forever(
    drain: Callable[[], Awaitable[object]],
    next_due_at: Callable[[], Awaitable[datetime | None]],
    wake: asyncio.Event,
    clock: Clock,
    poll_interval: float,
    worker_name: str,
) -> None:
    """Run `drain()`, then sleep until `wake` is set, until `next_due_at()`, or `poll_interval`; until cancelled.

    A failing pass, or a failure to read when the next one is due (the database away for a moment), is logged
    and tried again after `poll_interval`.
    """
    while True:
        wake.clear()
        timeout = poll_interval
        try:
            await drain()
            next_due = await next_due_at()
        except Exception:
            log.exception("%s pass failed; trying again shortly", worker_name)
        else:
            if next_due is not None:
                timeout = min(timeout, max(0.05, (next_due - clock.now()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout)
