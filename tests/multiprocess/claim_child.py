"""One process of the multi-process drop race: claims for a range of people, prints how many it won."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from drops import DropError
from storefront.app import App
from storefront.config import Settings
from storefront.demo.world import DEMO_CATALOG


async def main(database_url: str, drop_id: int, people: list[str]) -> None:
    folder = Path(tempfile.mkdtemp())
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        catalog_path=DEMO_CATALOG,
        stripe_webhook_secret="whsec_x",
        blob_dir=folder / "b",
        download_token_key_path=folder / "k",
        license_signing_key_path=folder / "l.pem",
    )
    app = App(settings)
    app.drops.start()
    won = 0

    async def claim(identity: str) -> None:
        nonlocal won
        try:
            await app.drops.claim(drop_id, identity)
            won += 1
        except DropError:
            pass

    try:
        await asyncio.gather(*(claim(identity) for identity in people))
    finally:
        await app.drops.stop()
        await app.close()
    print(won)


if __name__ == "__main__":
    url, drop, first, count, shared = (
        sys.argv[1],
        int(sys.argv[2]),
        int(sys.argv[3]),
        int(sys.argv[4]),
        int(sys.argv[5]),
    )
    crowd = [f"telegram:{n}" for n in range(first, first + count)] + [f"discord:{n}" for n in range(shared)]
    asyncio.run(main(url, drop, crowd))
