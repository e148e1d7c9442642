"""Case 4: the download gateway. Downloads of a 1 MB file through /dl to moto's S3 server, each recorded."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import sqlalchemy as sa
from moto.server import ThreadedMotoServer

from bench.report import Figure, percentile, print_case
from bench.servers import free_port, process
from entitlements import Observation, ObservationKind
from entitlements.asset_tables import license_entitlements
from entitlements.packs import PackFile
from storefront.app import App
from storefront.blobs import S3BlobStore
from storefront.config import Settings
from storefront.demo.world import DEMO_CATALOG

CLIENTS = 50
MEMBERS = 50
WARM_UP = 300


def _catalog(folder: Path) -> Path:
    """The demo catalog with a download quota large enough for the run."""
    path = folder / "catalog.toml"
    path.write_text(DEMO_CATALOG.read_text().replace("monthly_downloads = 1000", "monthly_downloads = 1000000"))
    return path


def _environment(folder: Path, endpoint: str, database_url: str | None) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}",
        "CATALOG_PATH": str(_catalog(folder)),
        "STRIPE_WEBHOOK_SECRET": "whsec_bench_downloads_0123456789",
        "STRIPE_API_KEY": "",
        "BLOB_STORE": "s3",
        "S3_BUCKET": "bench-downloads",
        "S3_ENDPOINT_URL": endpoint,
        "S3_ACCESS_KEY_ID": "bench",
        "S3_SECRET_ACCESS_KEY": "bench-secret",
        "S3_ADDRESSING_STYLE": "path",
        "DOWNLOAD_TOKEN_KEY": "bench-download-token-key-0123456789abcdef",
        "LICENSE_SIGNING_KEY_PATH": str(folder / "license.pem"),
        "PUBLIC_BASE_URL": "http://127.0.0.1:1",
    }


async def _seed(env: dict[str, str], downloads: int) -> list[str]:
    """A brand-tier member base, this month's pack with one 1 MB file, and `downloads` signed /dl paths."""
    previous = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        app = App(Settings(_env_file=None))
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    try:
        await app.migrate()
        assert isinstance(app.blobs, S3BlobStore)
        await app.blobs.create_bucket_if_missing()
        now = app.clock.now()
        summary = await app.packs.add_pack(now.strftime("%Y-%m"), [PackFile("big.bin", os.urandom(1_000_000))])
        asset_id = summary.assets[0].id
        period_end = int((now + timedelta(days=30)).timestamp())
        async with app.db.write() as conn:
            for n in range(MEMBERS):
                snapshot = {
                    "stripe_status": "active",
                    "price_id": "price_demo_brand_month",
                    "current_period_end": period_end,
                    "start_date": int(now.timestamp()) - 60,
                }
                await app.memberships.observe(
                    conn,
                    subscription_id=f"sub_bench{n}",
                    identity=f"telegram:{700000 + n}",
                    customer_id=f"cus_bench{n}",
                    observation=Observation(
                        f"evt_bench{n}", ObservationKind.SNAPSHOT, now - timedelta(seconds=60), snapshot
                    ),
                    event_type="bench",
                    now=now,
                )
        async with app.db.read() as conn:
            member_ids = [row[0] for row in await conn.execute(sa.text("SELECT id FROM members ORDER BY id"))]
        links = [
            app.packs._links.url(
                member_id=member_ids[i % MEMBERS],
                asset_id=asset_id,
                license_kind="personal",
                expires_at=now + timedelta(hours=1, seconds=i),
            )
            for i in range(downloads)
        ]
        return [link.split("127.0.0.1:1", 1)[1] for link in links]
    finally:
        await app.close()


async def _blast(base: str, paths: list[str]) -> tuple[float, list[float], dict[int, int]]:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for path in paths:
        queue.put_nowait(path)
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def client(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            path = queue.get_nowait()
            started = time.perf_counter()
            async with session.get(base + path, allow_redirects=False) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
            latencies.append(time.perf_counter() - started)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CLIENTS)) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(CLIENTS)))
        return time.perf_counter() - started, latencies, statuses


async def run(downloads: int = 5_000, database_url: str | None = None) -> list[Figure]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, moto_port = moto.get_host_and_port()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            env = _environment(folder, f"http://{host}:{moto_port}", database_url)
            # Both servers get the same warm-up before they are timed: links of its own, so the timed ones are new.
            every_path = await _seed(env, WARM_UP + downloads)
            warm_up, paths = every_path[:WARM_UP], every_path[WARM_UP:]

            port = free_port()
            async with process(["-m", "bench.bare_server", str(port)], port):
                await _blast(f"http://127.0.0.1:{port}", warm_up)
                base_seconds, base_latencies, _ = await _blast(f"http://127.0.0.1:{port}", paths)

            port = free_port()
            async with process(["-m", "storefront", "run", "--port", str(port), "--role", "web"], port, env):
                _, _, warm_up_statuses = await _blast(f"http://127.0.0.1:{port}", warm_up)
                seconds, latencies, statuses = await _blast(f"http://127.0.0.1:{port}", paths)
            from storefront.db import Database

            db = Database(env["DATABASE_URL"])
            async with db.read() as conn:
                recorded = await conn.scalar(sa.select(sa.func.count()).select_from(license_entitlements))
            await db.dispose()
    finally:
        moto.stop()

    base_rate, rate = downloads / base_seconds, downloads / seconds
    one_each = statuses == {302: downloads} and warm_up_statuses == {302: WARM_UP}
    figures = [
        Figure("redirects/s", rate, "req/s", base_rate, ">= 0.5 x baseline", rate >= base_rate / 2),
        Figure("p50 latency", percentile(latencies, 50) * 1000, "ms", percentile(base_latencies, 50) * 1000),
        Figure("p99 latency", percentile(latencies, 99) * 1000, "ms", percentile(base_latencies, 99) * 1000),
    ]
    print_case(
        f"Download gateway: {downloads:,} downloads of a 1 MB file via /dl to moto's S3 ({CLIENTS} clients, "
        f"{'PostgreSQL' if database_url else 'SQLite'})",
        figures,
        [
            f"baseline: bare aiohttp handler answering a 302 ({base_rate:,.0f} req/s)",
            f"answers: {statuses}; license records written: {recorded:,}, with the {WARM_UP} warm-up downloads "
            f"(one per download: {'yes' if recorded == WARM_UP + downloads and one_each else 'NO'})",
            f"measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        ],
    )
    return figures


if __name__ == "__main__":
    asyncio.run(run())
