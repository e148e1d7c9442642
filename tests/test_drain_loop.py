"""A background worker's loop outlives a failing pass and a failing look at what comes due next."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import pytest
from sqlalchemy.exc import OperationalError

from storefront.clock import SystemClock
from storefront.drain_loop import drain_forever


@pytest.mark.parametrize("failing", ["drain", "next_due_at"])
async def test_the_loop_keeps_draining_after_the_database_fails_once(failing: str, caplog: pytest.LogCaptureFixture):
    passes = 0
    drained_again = asyncio.Event()

    def database_away_the_first_time() -> None:
        if passes == 1:
            raise OperationalError("SELECT min(next_attempt_at) ...", {}, Exception("database is locked"))

    async def drain() -> None:
        nonlocal passes
        passes += 1
        if passes >= 2:
            drained_again.set()
        if failing == "drain":
            database_away_the_first_time()

    async def next_due_at() -> datetime | None:
        if failing == "next_due_at":
            database_away_the_first_time()
        return None

    loop = asyncio.create_task(drain_forever(drain, next_due_at, asyncio.Event(), SystemClock(), 0.01, "test worker"))
    try:
        await asyncio.wait_for(drained_again.wait(), 10)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert "test worker pass failed" in caplog.text
