from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from storefront.db._database import Database

T = TypeVar("T")
log = logging.getLogger(__name__)

Operation = Callable[[AsyncConnection], Awaitable[Any]]


class GroupCommitter:
    """Runs small independent writes submitted concurrently in one shared transaction (group commit).

    Each write runs in a savepoint of its own, so one failing write fails only its caller. A caller
    returns only after the commit that holds its write, so "answered" still means "durable". With one
    writer lock (SQLite) this turns N transactions per burst into one.
    """

    def __init__(self, db: Database, max_batch: int = 500, *, urgent: bool = True) -> None:
        self._db = db
        self._max_batch = max_batch
        self._urgent = urgent
        self._queue: asyncio.Queue[tuple[Operation, asyncio.Future[Any]]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def run(self, operation: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        if self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._write_batches(), name="group-commit-writer")
        assert self._queue is not None
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((operation, future))
        return await future

    async def _write_batches(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < self._max_batch:
                batch.append(self._queue.get_nowait())
            await self._write(batch)

    async def _write(self, batch: list[tuple[Operation, asyncio.Future[Any]]]) -> None:
        results: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            async with self._db.write(urgent=self._urgent) as conn:
                for operation, future in batch:
                    try:
                        async with conn.begin_nested():
                            results.append((future, await operation(conn), None))
                    except Exception as error:
                        results.append((future, None, error))
        except Exception as error:
            log.warning("group commit of %d writes failed: %s", len(batch), error)
            results = [(future, None, error) for _, future in batch]
        for future, value, error in results:
            if future.done():
                continue
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
