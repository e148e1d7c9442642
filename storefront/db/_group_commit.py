from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from storefront.db._database import Database
from storefront.db._driver_rows import insert_new_rows_through_driver
from storefront.db._upsert import insert_ignoring_conflicts

Item = TypeVar("Item")
log = logging.getLogger(__name__)

Outcome = tuple[Any, BaseException | None]


class BatchWriter(Generic[Item]):
    """Queues items submitted concurrently and hands whatever has queued to one write, one batch at a time.

    `write_batch(items)` returns, per item, (result, None) or (None, the error its caller gets). A caller
    returns only after the commit that holds its item, so "answered" still means "durable".
    """

    def __init__(
        self,
        db: Database,
        write_batch: Callable[[list[Item]], Awaitable[list[Outcome]]] | None = None,
        *,
        max_batch: int = 500,
    ) -> None:
        self._db = db
        self._write_batch = write_batch
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Item, asyncio.Future[Any]]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Any:
        """Queue `item`; its result once the batch holding it is committed (or its error)."""
        if self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._write_batches(), name=f"{type(self).__name__}-writer")
        assert self._queue is not None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, future))
        return await future

    async def _write_batches(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < self._max_batch:
                batch.append(self._queue.get_nowait())
            outcomes = await self._write_or_split([item for item, _ in batch])
            for (_, future), (value, error) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if error is None:
                    future.set_result(value)
                else:
                    future.set_exception(error)

    async def _write_or_split(self, items: list[Item]) -> list[Outcome]:
        """Write the batch; if that fails, each item alone, so a bad item fails only its own caller."""
        try:
            return await self._write(items)
        except Exception as error:
            if len(items) == 1:
                return [(None, error)]
            log.warning("a batch of %d writes failed (%s); writing them one by one", len(items), error)
        outcomes: list[Outcome] = []
        for item in items:
            try:
                outcomes.extend(await self._write([item]))
            except Exception as error:
                outcomes.append((None, error))
        return outcomes

    async def _write(self, items: list[Item]) -> list[Outcome]:
        assert self._write_batch is not None, "pass write_batch or override _write"
        return await self._write_batch(items)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class RowInserter(BatchWriter[dict[str, Any]]):
    """Inserts rows submitted concurrently with INSERT ... ON CONFLICT DO NOTHING, one transaction per batch.

    For hot paths that only add rows (the webhook inbox): a batch costs one commit, and its rows go to SQLite on
    the driver's cursor (PostgreSQL: one multi-row statement). If the batch fails, the rows are retried one by
    one, so a bad row fails only its caller.
    """

    def __init__(self, db: Database, table: sa.Table, key: str, max_batch: int = 500) -> None:
        super().__init__(db, max_batch=max_batch)
        self._table = table
        self._key = key

    async def insert(self, row: dict[str, Any]) -> bool:
        """Insert `row` unless a row with its key exists (or is queued before it); True when it was inserted."""
        return await self.submit(row)

    async def _write(self, items: list[dict[str, Any]]) -> list[Outcome]:
        first_of_key: dict[Any, int] = {}
        for index, row in enumerate(items):
            first_of_key.setdefault(row[self._key], index)
        new_rows = [items[index] for index in first_of_key.values()]
        inserted = await self._db.write_in_one_trip(lambda conn: self._insert(conn, new_rows), urgent=True)
        return [
            (row[self._key] in inserted and index == first_of_key[row[self._key]], None)
            for index, row in enumerate(items)
        ]

    def _insert(self, conn: sa.Connection, rows: list[dict[str, Any]]) -> set[Any]:
        """The keys of the rows that were new."""
        if conn.dialect.name != "sqlite":
            # executemany with RETURNING: SQLAlchemy sends it as multi-row INSERTs from one cached compilation.
            statement = insert_ignoring_conflicts(conn, self._table, [self._key]).returning(self._table.c[self._key])
            return set(conn.execute(statement, rows).scalars())
        # The same statement row by row on the driver's cursor: about 30 us less CPU per webhook in the web
        # process than SQLAlchemy's batch above.
        return insert_new_rows_through_driver(conn, self._table, rows, self._key)
