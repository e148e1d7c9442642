"""Time the churn report on a large generated history (not a test: `python -m tests.churn.bench_churn 100000`).

The history is the tests' generator: members over 17 months with monthly renewals (two observations a
month), trials, failures, tier changes, cancellations, refunds and comebacks.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from storefront.catalog import load_catalog
from storefront.churn import churn_summary_text, compute_churn
from storefront.db import Database
from storefront.db.migrate import upgrade
from tests.churn.conftest import CHURN_CATALOG
from tests.churn.generated import GRACE, NOW, generate
from tests.churn.store import store_in_bulk


async def bench(members: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
        try:
            await upgrade(db)
            started = time.perf_counter()
            history = generate(members, seed=1)
            await store_in_bulk(db, history)
            print(f"{members} members, {len(history.events)} events stored in {time.perf_counter() - started:.0f} s")
            del history
            started, cpu = time.perf_counter(), time.process_time()
            report = await compute_churn(db, load_catalog(CHURN_CATALOG), now=NOW, grace=GRACE, months=12)
            print(f"report: {time.perf_counter() - started:.1f} s wall, {time.process_time() - cpu:.1f} s CPU")
            print(await churn_summary_text(report))
        finally:
            await db.dispose()


if __name__ == "__main__":
    asyncio.run(bench(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
