"""Builders and the app of the request tests: the demo catalog (Brand has 2 requests a month, 5 days' turnaround,
extra requests at 75.00), the Stripe stand-in for Checkout, moto's S3 server for files, members made through the
real path (a signed subscription webhook) and payments reported by signed Checkout events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
import sqlalchemy as sa

from entitlements.requests import Brief, CustomRequest, RequestService
from storefront.app import App, Running
from storefront.clock import ManualClock
from storefront.config import Settings
from storefront.db.tables import outbox
from storefront.demo.stripe_events import StripeEvents
from storefront.outbox_delivery import ADMIN_ALERT_TEMPLATE
from storefront.standins.stripe_api import StripeStandIn
from storefront.stripe_gateway import StripeGateway
from tests.conftest import TEST_CATALOG
from tests.helpers import WEBHOOK_SECRET, WebhookSender
from tests.packs import builders as packs_builders
from tests.packs.builders import report_paid
from tests.packs.conftest import boto_session, moto_endpoint, s3_settings, s3_store  # noqa: F401

ADMINS = ("telegram:9001", "discord:8001")
EXTRA_PRICE = 7500


@pytest.fixture
def settings(db_url: str, tmp_path: Path, moto_endpoint: str) -> Settings:  # noqa: F811
    return Settings(
        _env_file=None,
        database_url=db_url,
        download_token_key_path=tmp_path / "keys" / "download_token.key",
        license_signing_key_path=tmp_path / "keys" / "license_signing_ed25519.pem",
        catalog_path=TEST_CATALOG,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_key="sk_test_requests",
        admin_telegram_ids=[9001],
        admin_discord_ids=[8001],
        **s3_settings(moto_endpoint),
    )


@pytest.fixture
async def stripe_api(clock: ManualClock) -> AsyncIterator[StripeStandIn]:
    async with StripeStandIn(clock=clock, rate_limit=None) as api:
        yield api


async def _no_sleep(seconds: float) -> None:
    return None


@pytest.fixture
async def app(
    settings: Settings,
    clock: ManualClock,
    stripe_api: StripeStandIn,
    boto_session: boto3.session.Session,  # noqa: F811
) -> AsyncIterator[App]:
    """The app on the demo catalog, with Stripe pointed at the stand-in and files in moto's S3."""
    gateway = StripeGateway("sk_test_requests", api_base=stripe_api.base_url, sleep=_no_sleep)
    blobs = s3_store(settings, boto_session)
    await blobs.create_bucket_if_missing()
    application = App(settings, clock=clock, stripe=gateway, blobs=blobs)
    await application.migrate()
    yield application
    await application.close()


@pytest.fixture
def requests(app: App) -> RequestService:
    return app.requests


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def a_member(
    app: App, webhook: WebhookSender, events: StripeEvents, identity: str, *, tier: str = "brand"
) -> int:
    """A member with an active subscription to `tier` (Brand unless said), as Stripe would report it."""
    return await packs_builders.a_member(app, webhook, events, identity, tier=tier)


def checkout_of(stripe_api: StripeStandIn, request_id: int) -> dict[str, Any]:
    """The Checkout Session Stripe holds for an extra request."""
    [session] = [s for s in stripe_api.created_checkout_sessions() if s["metadata"].get("request") == str(request_id)]
    return session


async def pay(
    app: App,
    webhook: WebhookSender,
    events: StripeEvents,
    stripe_api: StripeStandIn,
    request_id: int,
    *,
    intent: str | None = None,
) -> str:
    """Stripe reports the extra request's Checkout paid (a signed checkout.session.completed); its payment intent."""
    intent = intent or f"pi_request_{request_id}"
    await report_paid(app, webhook, events, checkout_of(stripe_api, request_id), intent)
    return intent


async def over_quota(requests: RequestService, identity: str) -> None:
    """A Brand member uses the two free requests of the month."""
    await requests.submit(identity, Brief("one"))
    await requests.submit(identity, Brief("two"))


async def an_extra(requests: RequestService, identity: str, what: str = "a third, paid") -> CustomRequest:
    """A Brand member's two free requests of the month, then one extra waiting for payment."""
    await over_quota(requests, identity)
    return (await requests.submit(identity, Brief(what))).request


async def a_paid_extra(
    app: App,
    webhook: WebhookSender,
    events: StripeEvents,
    stripe_api: StripeStandIn,
    requests: RequestService,
    identity: str,
) -> tuple[CustomRequest, str]:
    """A new Brand member over quota whose extra request Stripe reports paid: (the request, its payment intent)."""
    await a_member(app, webhook, events, identity)
    extra = await an_extra(requests, identity)
    return extra, await pay(app, webhook, events, stripe_api, extra.id)


async def let_expire(
    app: App, webhook: WebhookSender, events: StripeEvents, stripe_api: StripeStandIn, request_id: int
) -> None:
    session = checkout_of(stripe_api, request_id)
    gone = events.checkout_session(
        mode="payment",
        client_reference_id=session["client_reference_id"],
        customer=None,
        metadata=session["metadata"],
        status="expired",
        payment_status="unpaid",
    )
    gone["id"] = session["id"]
    assert (await webhook.send(events.event("checkout.session.expired", gone))).status == 200
    await app.worker.drain()


async def request_notices(app: App) -> list[dict[str, Any]]:
    """The NOTIFY rows about requests, oldest first: (key, template, member_id)."""
    async with app.db.read() as conn:
        rows = await conn.execute(
            sa.select(outbox.c.key, outbox.c.payload, outbox.c.member_id, outbox.c.kind)
            .where(outbox.c.key.like("request:%"))
            .order_by(outbox.c.id)
        )
        return [{"key": r.key, "payload": r.payload, "member_id": r.member_id, "kind": r.kind} for r in rows]


async def admin_alerts(app: App) -> list[dict[str, Any]]:
    async with app.db.read() as conn:
        rows = await conn.execute(sa.select(outbox.c.key, outbox.c.payload, outbox.c.member_id).order_by(outbox.c.id))
        return [
            {"key": r.key, "payload": r.payload, "member_id": r.member_id}
            for r in rows
            if r.payload.get("template") == ADMIN_ALERT_TEMPLATE
        ]


async def certificate_of(http: aiohttp.ClientSession, server: Running, license_id: str) -> dict[str, Any]:
    async with http.get(f"{server.url}/license/{license_id}/certificate") as response:
        assert response.status == 200
        return json.loads(await response.read())["certificate"]
