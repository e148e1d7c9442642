"""A fan-out in a process of its own that stops dead (blocks) at the Nth link it makes, to be SIGKILLed.

    python -m tests.packs.fanout_process DATABASE_URL MONTH BLOCK_AT BATCH

Prints `blocked <n>` when it blocks; at that moment earlier batches are committed and one is half done.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime
from pathlib import Path
from tempfile import mkdtemp

from entitlements.downloads import DownloadLinks, TokenSigner
from entitlements.licenses import load_license_catalog
from entitlements.packs import PackService
from storefront.blobs import LocalBlobStore
from storefront.db import Database
from tests.packs.conftest import PACKS_CATALOG, tiers_of


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


class BlockingLinks(DownloadLinks):
    def __init__(self, block_at: int) -> None:
        super().__init__(TokenSigner(b"k" * 32), "http://127.0.0.1:8080")
        self.made = 0
        self.block_at = block_at

    def url(self, **kwargs: object) -> str:
        self.made += 1
        if self.made == self.block_at:
            print(f"blocked {self.made}", flush=True)
            time.sleep(3600)  # holds the open write transaction until the parent kills the process
        return super().url(**kwargs)  # type: ignore[arg-type]


async def main(db_url: str, month: str, block_at: int, batch: int, now: str) -> None:
    db = Database(db_url)
    packs = PackService(
        db=db,
        clock=FixedClock(datetime.fromisoformat(now)),
        blobs=LocalBlobStore(Path(mkdtemp())),
        links=BlockingLinks(block_at),
        catalog=tiers_of(PACKS_CATALOG),
        licenses=load_license_catalog(PACKS_CATALOG),
        batch_size=batch,
    )
    await packs.fan_out(month, progress=lambda p: print(f"progress {p.handled}/{p.total}", flush=True))
    print("finished", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]))
