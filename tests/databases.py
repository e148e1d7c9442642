"""Which database the suite runs on: a SQLite file by default, PostgreSQL with TEST_DATABASE=postgres.

`make test` starts a throwaway PostgreSQL server (TEST_POSTGRES_URL) and runs the suite twice, once per
database. On PostgreSQL every test gets a database of its own, created empty and dropped afterwards, so
tests stay as independent as with a SQLite file each. Tests that need both (copying SQLite into
PostgreSQL) use the server whenever TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

POSTGRES_SERVER = os.environ.get("TEST_POSTGRES_URL", "").strip()
ON_POSTGRES = bool(POSTGRES_SERVER) and os.environ.get("TEST_DATABASE", "sqlite") == "postgres"
needs_postgres = pytest.mark.skipif(not POSTGRES_SERVER, reason="needs a PostgreSQL server (TEST_POSTGRES_URL)")


def _asyncpg_dsn(url: sa.URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _migrate_in_own_loop(url: str) -> None:
    """Apply every migration to `url` on an event loop of its own (the tests' loops come and go per test)."""
    from storefront.db import Database
    from storefront.db.migrate import upgrade

    async def migrate() -> None:
        db = Database(url)
        try:
            await upgrade(db)
        finally:
            await db.dispose()

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, migrate()).result()


@functools.cache
def _migrated_sqlite_template() -> Path:
    """A SQLite file migrated once per session; each test starts from a copy (migrating costs ~0.4 s)."""
    path = Path(tempfile.mkdtemp(prefix="storefront-template-")) / "migrated.db"
    _migrate_in_own_loop(f"sqlite+aiosqlite:///{path}")
    return path


@functools.cache
def _migrated_postgres_template() -> str:
    """A PostgreSQL database migrated once per session, used as the TEMPLATE of each test's database."""
    import asyncpg

    server = sa.make_url(POSTGRES_SERVER)
    name = f"template_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        admin = await asyncpg.connect(_asyncpg_dsn(server))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, create()).result()
    _migrate_in_own_loop(server.set(database=name).render_as_string(hide_password=False))
    return name


@asynccontextmanager
async def fresh_database(tmp_path: Path, name: str = "storefront") -> AsyncIterator[str]:
    """The URL of a new, migrated database for one test, on the database the suite runs on."""
    if not ON_POSTGRES:
        path = tmp_path / f"{name}.db"
        shutil.copyfile(_migrated_sqlite_template(), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    async with fresh_postgres_database(template=_migrated_postgres_template()) as url:
        yield url


@asynccontextmanager
async def fresh_postgres_database(template: str | None = None) -> AsyncIterator[str]:
    """A new PostgreSQL database, empty or copied from `template`, dropped afterwards."""
    import asyncpg

    server = sa.make_url(POSTGRES_SERVER)
    database = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(_asyncpg_dsn(server))
    try:
        copy_of = f' TEMPLATE "{template}"' if template else ""
        await admin.execute(f'CREATE DATABASE "{database}"{copy_of}')
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
