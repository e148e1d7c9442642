"""Which database the suite runs on: a SQLite file by default, PostgreSQL with TEST_DATABASE=postgres.

`make test` starts a throwaway PostgreSQL server (TEST_POSTGRES_URL) and runs the suite twice, once per
database. On PostgreSQL every test gets a database of its own, created empty and dropped afterwards, so
tests stay as independent as with a SQLite file each. Tests that need both (copying SQLite into
PostgreSQL) use the server whenever TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

POSTGRES_SERVER = os.environ.get("TEST_POSTGRES_URL", "").strip()
ON_POSTGRES = bool(POSTGRES_SERVER) and os.environ.get("TEST_DATABASE", "sqlite") == "postgres"
needs_postgres = pytest.mark.skipif(not POSTGRES_SERVER, reason="needs a PostgreSQL server (TEST_POSTGRES_URL)")


def _asyncpg_dsn(url: sa.URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def fresh_database(tmp_path: Path, name: str = "storefront") -> AsyncIterator[str]:
    """The URL of a new, empty database for one test, on the database the suite runs on."""
    if not ON_POSTGRES:
        yield f"sqlite+aiosqlite:///{tmp_path}/{name}.db"
        return
    async with fresh_postgres_database() as url:
        yield url


@asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    import asyncpg

    server = sa.make_url(POSTGRES_SERVER)
    database = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(_asyncpg_dsn(server))
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    try:
        yield server.set(database=database).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(_asyncpg_dsn(server))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await admin.close()
