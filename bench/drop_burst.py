"""Case 1: the drop burst. Distinct people claim at once against a limited supply; never oversold."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.report import Figure, percentile, print_case
from drops import DropInput, SoldOut
from drops.tables import drop_holds
from storefront.app import App
from storefront.clock import ManualClock
from storefront.config import Settings
from storefront.demo.world import DEMO_CATALOG


def baseline(path: Path, people: int, supply: int) -> tuple[float, list[float]]:
    """A plain sqlite3 loop in one connection: the same conditional UPDATE, one commit per decision."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE stock (id INTEGER PRIMARY KEY, remaining INTEGER)")
    conn.execute("CREATE TABLE holds (person TEXT PRIMARY KEY)")
    conn.execute("INSERT INTO stock VALUES (1, ?)", (supply,))
    latencies = []
    started = time.perf_counter()
    for person in range(people):
        began = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        if conn.execute("UPDATE stock SET remaining = remaining - 1 WHERE id = 1 AND remaining > 0").rowcount:
            conn.execute("INSERT INTO holds VALUES (?)", (f"telegram:{person}",))
        conn.execute("COMMIT")
        latencies.append(time.perf_counter() - began)
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, latencies


async def run(
    people: int = 20_000, supply: int = 1_000, database_url: str | None = None, arrival_seconds: float = 0.0
) -> list[Figure]:
    """`arrival_seconds` 0: every click arrives in the same instant; else clicks arrive evenly over that time."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base_seconds, base_latencies = baseline(folder / "baseline.db", people, supply)

        clock = ManualClock()
        settings = Settings(
            _env_file=None,
            database_url=database_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}",
            catalog_path=DEMO_CATALOG,
            stripe_webhook_secret="whsec_bench",
            blob_dir=folder / "blobs",
            download_token_key_path=folder / "dl.key",
            license_signing_key_path=folder / "license.pem",
        )
        app = App(settings, clock=clock)
        await app.migrate()
        app.drops.start()
        try:
            spec = DropInput.parse(
                title="Bench print",
                description="-",
                price="10.00 USD",
                supply=supply,
                opens_at=clock.now() + timedelta(hours=1),
                per_person_limit=1,
            )
            drop = await app.drops.create(spec, creator="discord:1")
            clock.set(drop.opens_at + timedelta(seconds=1))
            latencies: list[float] = []
            won = 0

            async def click(person: int) -> None:
                nonlocal won
                if arrival_seconds:
                    await asyncio.sleep(arrival_seconds * person / people)
                began = time.perf_counter()
                try:
                    await app.drops.claim(drop.id, f"telegram:{person}")
                    won += 1
                except SoldOut:
                    pass
                latencies.append(time.perf_counter() - began)

            started = time.perf_counter()
            await asyncio.gather(*(click(person) for person in range(people)))
            elapsed = time.perf_counter() - started
            async with app.db.read() as conn:
                holds = await conn.scalar(sa.select(sa.func.count()).select_from(drop_holds))
                holders = await conn.scalar(sa.select(sa.func.count(sa.distinct(drop_holds.c.member_id))))
        finally:
            await app.drops.stop()
            await app.close()

    rate, base_rate = people / elapsed, people / base_seconds
    p99 = percentile(latencies, 99) * 1000
    figures = [
        Figure("decisions/s", rate, "claims/s", base_rate, ">= 0.5 x baseline", rate >= base_rate / 2),
        Figure("p50 decision latency", percentile(latencies, 50) * 1000, "ms", percentile(base_latencies, 50) * 1000),
        Figure("p99 decision latency", p99, "ms", percentile(base_latencies, 99) * 1000, "< 100 ms", p99 < 100),
    ]
    correct = holds == won == supply and holders == supply
    print_case(
        f"Drop burst: {people:,} distinct people claim at once, supply {supply:,}, limit 1 per person "
        f"({'PostgreSQL' if database_url else 'SQLite'}; "
        f"{f'arriving over {arrival_seconds:g} s' if arrival_seconds else 'all in the same instant'})",
        figures,
        [
            f"holds {holds:,}, winners {won:,}, distinct holders {holders:,}: "
            f"{'exactly the supply, none oversold' if correct else 'WRONG'}",
            "baseline: plain sqlite3 loop, one connection, conditional UPDATE, one commit per decision "
            "(latency there is per decision in sequence, not under a burst)",
        ],
    )
    return figures


if __name__ == "__main__":
    asyncio.run(run())
