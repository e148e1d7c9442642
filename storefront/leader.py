"""One scheduler leader among the processes sharing a database.

On PostgreSQL the leader holds a session-level advisory lock on a connection of its own; if the
process dies, the server drops the connection and the lock with it, and another process takes over
at its next try. SQLite serves one process, which is always the leader.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storefront.db import Database

__all__ = ["LEADER_LOCK_KEY", "LeaderElection"]

log = logging.getLogger(__name__)

LEADER_LOCK_KEY = 0x53544F5245  # "STORE": the advisory lock key of the scheduler leader


class LeaderElection:
    def __init__(
        self,
        db: Database,
        *,
        on_elected: Callable[[], Awaitable[None]],
        on_deposed: Callable[[], Awaitable[None]],
        retry_seconds: float = 2.0,
    ) -> None:
        self._db = db
        self._on_elected = on_elected
        self._on_deposed = on_deposed
        self._retry = retry_seconds
        self._conn: AsyncConnection | None = None
        self.is_leader = False

    async def try_acquire(self) -> bool:
        """Become the leader if nobody is; True while this process leads."""
        if self.is_leader:
            return await self._still_holding()
        if self._db.is_sqlite:
            acquired = True
        else:
            self._conn = await self._db.engine.connect()
            acquired = bool(await self._conn.scalar(sa.select(sa.func.pg_try_advisory_lock(LEADER_LOCK_KEY))))
            await self._conn.commit()
            if not acquired:
                await self._conn.close()
                self._conn = None
        if acquired:
            self.is_leader = True
            log.info("this process is now the scheduler leader")
            await self._on_elected()
        return acquired

    async def _still_holding(self) -> bool:
        if self._conn is None:
            return True
        try:
            await self._conn.scalar(sa.select(1))
            await self._conn.commit()
            return True
        except Exception:
            log.warning("lost the leader connection; stepping down")
            await self._step_down()
            return False

    async def _step_down(self) -> None:
        self.is_leader = False
        if self._conn is not None:
            with suppress(Exception):
                await self._conn.close()
            self._conn = None
        await self._on_deposed()

    async def run(self) -> None:
        """Keep trying to lead; once leading, keep checking the lock is still held."""
        try:
            while True:
                await self.try_acquire()
                await asyncio.sleep(self._retry)
        finally:
            if self.is_leader:
                await self._release()

    async def _release(self) -> None:
        if self._conn is not None:
            with suppress(Exception):
                await self._conn.execute(sa.select(sa.func.pg_advisory_unlock(LEADER_LOCK_KEY)))
                await self._conn.commit()
        await self._step_down()
