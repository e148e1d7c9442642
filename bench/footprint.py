"""Case 5: footprint. Resident memory of `storefront run` (no bot tokens) over a large store, and start-up time."""

from __future__ import annotations

import asyncio
import compileall
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.report import Figure, print_case
from bench.servers import free_port, process
from storefront.db import Database
from storefront.db.migrate import upgrade
from storefront.demo.world import DEMO_CATALOG

STARTS = 3
# What `storefront run` imports from other projects before any code of ours runs (see the reference row).
LIBRARIES = [
    "sqlalchemy.ext.asyncio",
    "aiohttp.web",
    "stripe",
    "pydantic_settings",
    "apscheduler.schedulers.asyncio",
    "typer",
    "cryptography.hazmat.primitives.asymmetric.ed25519",
    "aiosqlite",
    "tomlkit",
]
# Our packages (pyproject's packages.find), compiled to bytecode before start-up is timed.
PACKAGES = ("storefront", "entitlements", "drops", "bots", "webhooks")
CERTIFICATE = '{"payload": "' + "x" * 400 + '", "signature": "' + "s" * 88 + '"}'


def _seed(path: Path, members: int, downloads: int) -> None:
    """Bulk rows written straight with sqlite3: the store of a large creator."""
    now = "2026-11-01 12:00:00.000000"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    conn.executemany(
        "INSERT INTO members (id, created_at, access_seq) VALUES (?, ?, 0)", ((n, now) for n in range(1, members + 1))
    )
    conn.executemany(
        "INSERT INTO identities (identity, member_id, created_at) VALUES (?, ?, ?)",
        ((f"telegram:{n}", n, now) for n in range(1, members + 1)),
    )
    conn.execute(
        "INSERT INTO packs (id, month, title, deliver_at, created_at, fanout_cursor) "
        "VALUES (1, '2026-11', 'Bench', ?, ?, 0)",
        (now, now),
    )
    conn.execute(
        "INSERT INTO assets (id, pack_id, filename, blob_key, sha256, size, content_type, title, tags, "
        "notes, added_at) VALUES (1, 1, 'a.png', 'k', ?, 1, 'image/png', 'A', '[]', '', ?)",
        ("0" * 64, now),
    )
    conn.executemany(
        "INSERT INTO license_entitlements (id, token_id, member_id, asset_id, sha256, license_kind, terms_version, "
        "source, source_ref, granted_at, certificate) VALUES (?, ?, ?, 1, ?, 'personal', ?, 'tier', 'fan', ?, ?)",
        (
            (f"lic_{n:020d}", f"tok_{n}", n % members + 1, "0" * 64, "1" * 64, now, CERTIFICATE)
            for n in range(downloads)
        ),
    )
    conn.commit()
    conn.close()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _compile_our_bytecode() -> None:
    """As an install does (pip compiles what it installs). An editable checkout on a machine that sets
    PYTHONDONTWRITEBYTECODE, as these do, would otherwise compile all our sources again on every start."""
    root = Path(__file__).resolve().parent.parent
    for package in PACKAGES:
        compileall.compile_dir(root / package, quiet=1)


async def _start_and_measure(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    port = free_port()
    started = time.perf_counter()
    async with process(
        [*args, str(port)] if args[0] == "-m" and "bare_server" in args[1] else [*args, "--port", str(port)], port, env
    ) as proc:
        ready = time.perf_counter() - started
        await asyncio.sleep(3)  # let start-up work (inbox drain, timers, leader) settle
        return ready, _rss_mb(proc.pid)


async def _median_of_starts(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Start-up time is the median of STARTS starts (one start on these machines varies by a few tenths of a
    second); resident memory is the largest seen."""
    runs = [await _start_and_measure(args, env) for _ in range(STARTS)]
    return statistics.median(ready for ready, _rss in runs), max(rss for _ready, rss in runs)


async def _import_seconds() -> float:
    """The median time `python` takes to import LIBRARIES and exit, collector tuned as `storefront` tunes it."""
    code = "\n".join(
        [
            "import storefront.collector as c",
            "c.collect_young_objects_less_often()",
            "with c.no_collections_while_importing():",
            "    import " + ", ".join(LIBRARIES),
        ]
    )
    times = []
    for _ in range(STARTS):
        started = time.perf_counter()
        child = await asyncio.create_subprocess_exec(sys.executable, "-c", code)
        await child.wait()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def run(members: int = 100_000, downloads: int = 1_000_000) -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db_path = folder / "big.db"
        db = Database(f"sqlite+aiosqlite:///{db_path}")
        await upgrade(db)
        await db.dispose()
        await asyncio.to_thread(_seed, db_path, members, downloads)
        size_mb = db_path.stat().st_size / 1e6

        await asyncio.to_thread(_compile_our_bytecode)
        base_ready, base_rss = await _median_of_starts(["-m", "bench.bare_server"])
        env = {
            "DATABASE_URL": f"sqlite+aiosqlite:///{db_path}",
            "CATALOG_PATH": str(DEMO_CATALOG),
            "STRIPE_WEBHOOK_SECRET": "whsec_bench_footprint",
            "STRIPE_API_KEY": "",
            "TELEGRAM_BOT_TOKEN": "",
            "DISCORD_BOT_TOKEN": "",
            "BLOB_DIR": str(folder / "blobs"),
            "DOWNLOAD_TOKEN_KEY_PATH": str(folder / "dl.key"),
            "LICENSE_SIGNING_KEY_PATH": str(folder / "lic.pem"),
        }
        ready, rss = await _median_of_starts(["-m", "storefront", "run", "--role", "all"], env)
        libraries = await _import_seconds()

    figures = [
        Figure("resident memory", rss, "MB", base_rss, "< 150 MB", rss < 150),
        Figure("start-up to green /healthz", ready, "s", base_ready, "< 1.5 s", ready < 1.5),
        Figure("importing the libraries alone", libraries, "s", base_ready, "(the floor of start-up)"),
    ]
    print_case(
        f"Footprint: storefront run (no bot tokens), {members:,} members, {downloads:,} download records",
        figures,
        [
            f"database file {size_mb:,.0f} MB; baseline: a bare aiohttp app started the same way",
            f"start-up: the median of {STARTS} starts; memory: the largest of them, 3 s after /healthz turned green",
            f"importing the libraries alone: python -c 'import {', '.join(LIBRARIES)}', nothing of ours",
        ],
    )
    return figures


if __name__ == "__main__":
    asyncio.run(run())
