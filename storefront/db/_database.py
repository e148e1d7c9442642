from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from storefront.db._write_gate import WriteGate
from storefront.errors import ConfigError

_WRITE = "storefront_write"
T = TypeVar("T")


class Database:
    """One engine and two ways in: `read()` and `write()`, each a transaction.

    On SQLite a write transaction starts with BEGIN IMMEDIATE, so two writers queue on the
    busy timeout instead of failing when a read lock would have to be upgraded.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = sa.make_url(url)
        if self.url.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
            raise ConfigError(
                f"DATABASE_URL must use sqlite+aiosqlite:// or postgresql+asyncpg://, not {self.url.drivername}://"
            )
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite and self.url.database and self.url.database != ":memory:":
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine: AsyncEngine = create_async_engine(self.url, echo=echo, **self._engine_options())
        self._gate: WriteGate | None = None
        self._one_trip: _OneTripWriter | None = None
        if self.is_sqlite:
            _install_sqlite_hooks(self.engine.sync_engine)
            self._gate = WriteGate()
            if self.url.database and self.url.database != ":memory:":
                self._one_trip = _OneTripWriter(self.url)

    def _engine_options(self) -> dict[str, Any]:
        if self.is_sqlite:
            return {"connect_args": {"timeout": 30}}
        return {"pool_size": 10, "max_overflow": 10}

    @asynccontextmanager
    async def write(self, *, urgent: bool = False) -> AsyncIterator[AsyncConnection]:
        """A read-write transaction, committed on success and rolled back on error.

        `urgent`: someone is waiting on this write (an HTTP answer, a button); it goes before background work.
        """
        gate = self._gate.hold(urgent=urgent) if self._gate is not None else nullcontext()
        async with gate, self.engine.connect() as conn:
            await conn.execution_options(**{_WRITE: True})
            async with conn.begin():
                yield conn

    async def write_in_one_trip(self, work: Callable[[sa.Connection], T], *, urgent: bool = False) -> T:
        """`work(conn)` in a write transaction that crosses to the database and back once.

        For hot batch writers. Through `write()` each statement is several round trips to aiosqlite's thread,
        and each return waits its turn on a busy event loop; here the whole transaction runs on one thread
        with a synchronous connection to the same file. PostgreSQL gets `work` through `run_sync`.
        """
        if self._one_trip is None:
            async with self.write(urgent=urgent) as conn:
                return await conn.run_sync(work)
        assert self._gate is not None
        async with self._gate.hold(urgent=urgent):
            return await self._one_trip.run(work)

    def urgent_write_waiting(self) -> bool:
        """True when an urgent write waits for this process's write gate (SQLite); background batches yield."""
        return self._gate is not None and self._gate.urgent_waiting

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn, conn.begin():
            yield conn

    async def dispose(self) -> None:
        if self._one_trip is not None:
            self._one_trip.close()
        await self.engine.dispose()

    def redacted_url(self) -> str:
        return self.url.render_as_string(hide_password=True)


def _install_sqlite_hooks(sync_engine: sa.Engine) -> None:
    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN can be chosen per transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        immediate = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class _OneTripWriter:
    """A synchronous engine on the same SQLite file, used by one thread of its own."""

    def __init__(self, url: sa.URL) -> None:
        self._url = url.set(drivername="sqlite")
        self._engine: sa.Engine | None = None
        self._thread: ThreadPoolExecutor | None = None

    async def run(self, work: Callable[[sa.Connection], T]) -> T:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        done = asyncio.get_running_loop().run_in_executor(self._thread, self._transaction, work)
        try:
            return await asyncio.shield(done)
        finally:
            if not done.done():
                # Cancelled: the thread's transaction still holds SQLite's write lock; keep the gate until it ends.
                await asyncio.wait([done])

    def _transaction(self, work: Callable[[sa.Connection], T]) -> T:
        if self._engine is None:
            self._engine = sa.create_engine(
                self._url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=1, max_overflow=0
            )
            _install_sqlite_hooks(self._engine)
        with self._engine.connect() as conn, conn.execution_options(**{_WRITE: True}).begin():
            return work(conn)

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
