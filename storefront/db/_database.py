from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from storefront.db._write_gate import WriteGate
from storefront.errors import ConfigError

_WRITE = "storefront_write"


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
        if self.is_sqlite:
            self._install_sqlite_hooks()
            self._gate = WriteGate()

    def _engine_options(self) -> dict[str, Any]:
        if self.is_sqlite:
            return {"connect_args": {"timeout": 30}}
        return {"pool_size": 10, "max_overflow": 10}

    def _install_sqlite_hooks(self) -> None:
        sync_engine = self.engine.sync_engine

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

    def urgent_write_waiting(self) -> bool:
        """True when an urgent write waits for this process's write gate (SQLite); background batches yield."""
        return self._gate is not None and self._gate.urgent_waiting

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn, conn.begin():
            yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()

    def redacted_url(self) -> str:
        return self.url.render_as_string(hide_password=True)
