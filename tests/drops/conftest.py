"""Drops fixtures: the service on the app's real SQLite file and Stripe's stand-in for Checkout."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from drops import DropOptions, DropService
from storefront.app import App
from storefront.clock import ManualClock
from storefront.standins.stripe_api import StripeStandIn
from storefront.stripe_gateway import StripeGateway


@pytest.fixture
async def stripe_api(clock: ManualClock) -> AsyncIterator[StripeStandIn]:
    async with StripeStandIn(clock=clock) as api:  # Stripe's own rate limit (25/s) is on
        yield api


@pytest.fixture
def stripe_gateway(stripe_api: StripeStandIn) -> StripeGateway:
    return StripeGateway("sk_test_drops", api_base=stripe_api.base_url, requests_per_second=20)


@pytest.fixture
def drop_options() -> DropOptions:
    return DropOptions()


@pytest.fixture
async def drops_service(
    app: App, clock: ManualClock, stripe_gateway: StripeGateway, drop_options: DropOptions
) -> AsyncIterator[DropService]:
    service = DropService(app.db, clock, app.catalog, stripe=stripe_gateway, options=drop_options)
    app.purchases.register("drop", service.purchases)
    service.start()
    yield service
    await service.stop()
