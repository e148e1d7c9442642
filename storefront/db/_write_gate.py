from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class WriteGate:
    """One writer at a time within the process, urgent writers first, waiters woken in order.

    SQLite has one write lock per database; queueing on it through the busy timeout means polling
    with sleeps. Queueing here instead hands the lock over at once, and lets short writes a person is
    waiting for (acknowledging a webhook, deciding a claim) go before background batches.
    """

    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def hold(self, *, urgent: bool = False) -> AsyncIterator[None]:
        if self._held or self._urgent or self._normal:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            (self._urgent if urgent else self._normal).append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._release()  # we were handed the gate just as we were cancelled
                else:
                    (self._urgent if urgent else self._normal).remove(waiter)
                raise
        else:
            self._held = True
        try:
            yield
        finally:
            self._release()

    @property
    def urgent_waiting(self) -> bool:
        """Someone a person is waiting on wants the gate: background work should commit and let go."""
        return any(not waiter.done() for waiter in self._urgent)

    def _release(self) -> None:
        for queue in (self._urgent, self._normal):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # ownership passes directly; _held stays True
                    return
        self._held = False
