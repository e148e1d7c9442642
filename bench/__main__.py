"""Run the benchmark suite: `python -m bench [--quick] [--postgres SERVER_URL]` (see README, Performance)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import sqlalchemy as sa

from bench import downloads, drop_burst, fanout_dm, footprint, webhook_ingest
from storefront.collector import collect_young_objects_less_often


@asynccontextmanager
async def postgres_database(server: str) -> AsyncIterator[str]:
    import asyncpg

    url = sa.make_url(server)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def machine() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "?")
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


async def main(quick: bool, postgres: str | None) -> None:
    scale = 0.2 if quick else 1.0
    print(f"# Benchmarks on {machine()}{' (quick: 1/5 size)' if quick else ''}")
    print("Each figure is printed with a baseline measured in the same run; only the ratios compare across runs.")
    await drop_burst.run(people=int(20_000 * scale), supply=int(1_000 * scale))
    await drop_burst.run(people=int(20_000 * scale), supply=int(1_000 * scale), arrival_seconds=1.0)
    await webhook_ingest.run(count=int(10_000 * scale))
    await fanout_dm.run(fans=int(10_000 * scale), rate=300, concurrency=32)
    await fanout_dm.run(fans=int(10_000 * scale), rate=300, concurrency=32, stop_halfway=True)
    await downloads.run(downloads=int(5_000 * scale))
    await footprint.run(members=int(100_000 * scale), downloads=int(1_000_000 * scale))
    if postgres:
        print("\n# The same cases on PostgreSQL (footprint is measured on SQLite only)")
        async with postgres_database(postgres) as url:
            await drop_burst.run(people=int(20_000 * scale), supply=int(1_000 * scale), database_url=url)
        async with postgres_database(postgres) as url:
            await webhook_ingest.run(count=int(10_000 * scale), database_url=url)
        async with postgres_database(postgres) as url:
            await fanout_dm.run(fans=int(10_000 * scale), rate=300, concurrency=32, database_url=url)
        async with postgres_database(postgres) as url:
            await downloads.run(downloads=int(5_000 * scale), database_url=url)


if __name__ == "__main__":
    collect_young_objects_less_often()  # as the storefront command does from its first line
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a fifth of the sizes, for a smoke run")
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL"), help="a PostgreSQL server URL")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(arguments.quick, arguments.postgres))
