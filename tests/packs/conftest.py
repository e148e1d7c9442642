"""Fixtures of the pack, download and license tests: moto's S3 server, the Stripe stand-in, an App on S3."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
from moto.server import ThreadedMotoServer

from entitlements.licenses import load_license_catalog
from storefront.app import App, Running, running
from storefront.blobs import S3BlobStore
from storefront.catalog import Catalog, load_catalog
from storefront.clock import ManualClock
from storefront.config import Settings
from storefront.demo.packs_story import stock_license_prices
from storefront.standins.stripe_api import StripeStandIn
from storefront.stripe_gateway import StripeGateway
from tests.helpers import WEBHOOK_SECRET, WebhookSender

PACKS_CATALOG = Path(__file__).parent / "catalog.toml"


def tiers_of(path: Path) -> Catalog:
    return load_catalog(path)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 (a real HTTP server speaking S3), shared by the session."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_settings(moto_endpoint: str) -> dict[str, Any]:
    return {
        "blob_store": "s3",
        "s3_bucket": f"packs-{secrets.token_hex(6)}",
        "s3_endpoint_url": moto_endpoint,
        "s3_access_key_id": "test-access-key",
        "s3_secret_access_key": "test-secret-key",
        "s3_addressing_style": "path",
    }


@pytest.fixture
def store_kind() -> str:
    """Which blob store the app uses; a test module overrides this fixture for the local-disk store."""
    return "s3"


@pytest.fixture
def pack_settings(db_url: str, tmp_path: Path, moto_endpoint: str, store_kind: str) -> Settings:
    store = (
        s3_settings(moto_endpoint) if store_kind == "s3" else {"blob_store": "local", "blob_dir": tmp_path / "blobs"}
    )
    return Settings(
        _env_file=None,
        database_url=db_url,
        catalog_path=PACKS_CATALOG,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_key="sk_test_packs",
        download_token_key_path=tmp_path / "keys" / "download_token.key",
        license_signing_key_path=tmp_path / "keys" / "license_signing_ed25519.pem",
        **store,
    )


@pytest.fixture
async def stripe_api(clock: ManualClock) -> AsyncIterator[StripeStandIn]:
    async with StripeStandIn(clock=clock, rate_limit=None) as api:
        stock_license_prices(api, load_license_catalog(PACKS_CATALOG))
        yield api


@pytest.fixture(scope="session")
def boto_session() -> boto3.session.Session:
    return boto3.session.Session()


def s3_store(settings: Settings, session: boto3.session.Session) -> S3BlobStore:
    """What blob_store_from_settings builds, on the session's shared boto3 session (see test_blob_stores)."""
    assert settings.s3_bucket and settings.s3_access_key_id and settings.s3_secret_access_key
    return S3BlobStore(
        bucket=settings.s3_bucket,
        endpoint_url=settings.s3_endpoint_url,
        access_key_id=settings.s3_access_key_id.get_secret_value(),
        secret_access_key=settings.s3_secret_access_key.get_secret_value(),
        addressing_style=settings.s3_addressing_style,
        session=session,
    )


@pytest.fixture
async def packs_app(
    pack_settings: Settings, clock: ManualClock, stripe_api: StripeStandIn, boto_session: boto3.session.Session
) -> AsyncIterator[App]:
    gateway = StripeGateway("sk_test_packs", api_base=stripe_api.base_url)
    blobs = s3_store(pack_settings, boto_session) if pack_settings.blob_store == "s3" else None
    application = App(pack_settings, clock=clock, catalog=tiers_of(PACKS_CATALOG), stripe=gateway, blobs=blobs)
    if isinstance(application.blobs, S3BlobStore):
        await application.blobs.create_bucket_if_missing()
    await application.migrate()
    yield application
    await application.close()


@pytest.fixture
async def packs_server(packs_app: App) -> AsyncIterator[Running]:
    async with running(packs_app, host="127.0.0.1", port=0, worker=False) as serving:
        yield serving


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def sender(packs_server: Running, http: aiohttp.ClientSession) -> WebhookSender:
    assert packs_server.url is not None
    return WebhookSender(packs_server.url, http)
