from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from storefront.app import App, Running, running
from storefront.clock import ManualClock
from storefront.config import Settings
from storefront.demo.stripe_events import StripeEvents
from storefront.demo.world import DEMO_CATALOG
from tests.databases import fresh_database
from tests.helpers import WEBHOOK_SECRET, WebhookSender

TEST_CATALOG = DEMO_CATALOG
FAN_PRICE, CREATOR_PRICE, BRAND_PRICE = "price_demo_fan_month", "price_demo_creator_month", "price_demo_brand_month"
EVENTS_START = 1_790_000_000


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.fromtimestamp(EVENTS_START + 600, tz=UTC))


@pytest.fixture
async def db_url(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database for this test: a SQLite file, or a PostgreSQL database when TEST_POSTGRES_URL is set."""
    async with fresh_database(tmp_path) as url:
        yield url


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        database_url=db_url,
        blob_dir=tmp_path / "blobs",
        download_token_key_path=tmp_path / "keys" / "download_token.key",
        license_signing_key_path=tmp_path / "keys" / "license_signing_ed25519.pem",
        catalog_path=TEST_CATALOG,
        stripe_webhook_secret=WEBHOOK_SECRET,
    )


@pytest.fixture
async def app(settings: Settings, clock: ManualClock) -> AsyncIterator[App]:
    application = App(settings, clock=clock)
    await application.migrate()
    yield application
    await application.close()


@pytest.fixture
async def server(app: App) -> AsyncIterator[Running]:
    """The real web app on 127.0.0.1; the worker is driven by the test (`app.worker.drain()`)."""
    async with running(app, host="127.0.0.1", port=0, worker=False) as serving:
        yield serving


@pytest.fixture
def events() -> StripeEvents:
    return StripeEvents(start=EVENTS_START)


@pytest.fixture
async def webhook(server: Running) -> AsyncIterator[WebhookSender]:
    async with aiohttp.ClientSession() as session:
        yield WebhookSender(server.url, session)
