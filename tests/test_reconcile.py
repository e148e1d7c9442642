"""Reconcile repairs drift from missed webhooks, and never reads a failed fetch as 'nobody subscribed'."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storefront.app import App
from storefront.clock import ManualClock
from storefront.errors import StripeUnavailable
from storefront.standins.stripe_api import StripeStandIn
from storefront.stripe_gateway import StripeGateway
from tests.helpers import member_state
from tests.lifecycle import FAN_PRICE, PERIOD_END
from webhooks.reconcile import reconcile


async def _no_wait(_seconds: float) -> None:
    return None


@pytest.fixture
async def stripe_api(clock: ManualClock) -> AsyncIterator[StripeStandIn]:
    async with StripeStandIn(clock=clock, rate_limit=None) as stand_in:
        yield stand_in


def _sub(events, n: int, status: str = "active") -> dict:
    return events.subscription(
        sub_id=f"sub_r{n}",
        customer=f"cus_r{n}",
        member=f"telegram:{9000 + n}",
        price_id=FAN_PRICE,
        unit_amount=500,
        status=status,
        current_period_end=PERIOD_END,
    )


async def _reconcile(app: App, stripe_api: StripeStandIn, max_attempts: int = 3):
    gateway = StripeGateway("sk_test_r", api_base=stripe_api.base_url, max_attempts=max_attempts, sleep=_no_wait)
    return await reconcile(db=app.db, clock=app.clock, stripe=gateway, memberships=app.memberships)


async def test_reconcile_grants_a_subscription_whose_webhooks_never_came(app: App, stripe_api, events):
    stripe_api.put_subscription(_sub(events, 1))
    report = await _reconcile(app, stripe_api)
    assert (report.subscriptions_seen, len(report.changes)) == (1, 1)
    assert (await member_state(app, "telegram:9001"))["granted_tier"] == "fan"


async def test_reconcile_ends_a_subscription_canceled_while_webhooks_were_missed(app: App, stripe_api, events, webhook):
    await webhook.send(events.event("customer.subscription.created", _sub(events, 2)))
    await app.worker.drain()
    assert (await member_state(app, "telegram:9002"))["granted_tier"] == "fan"

    stripe_api.put_subscription(_sub(events, 2, status="canceled"))
    await _reconcile(app, stripe_api)
    assert (await member_state(app, "telegram:9002"))["granted_tier"] is None


async def test_reconcile_reads_every_page(app: App, stripe_api, events):
    for n in range(1, 231):
        stripe_api.put_subscription(_sub(events, n))
    report = await _reconcile(app, stripe_api)
    assert report.subscriptions_seen == 230
    assert (await member_state(app, "telegram:9230"))["granted_tier"] == "fan"
    assert len([r for r in stripe_api.requests if r.path == "/v1/subscriptions"]) == 3


async def test_rate_limited_listing_stops_and_changes_nothing(app: App, stripe_api, events, webhook):
    await webhook.send(events.event("customer.subscription.created", _sub(events, 3)))
    await app.worker.drain()
    stripe_api.put_subscription(_sub(events, 3, status="canceled"))
    stripe_api.fail_next(3, status=429)

    with pytest.raises(StripeUnavailable, match="RateLimitError"):
        await _reconcile(app, stripe_api, max_attempts=3)
    assert (await member_state(app, "telegram:9003"))["granted_tier"] == "fan"


async def test_failure_on_a_later_page_changes_nothing(app: App, stripe_api, events, monkeypatch):
    for n in range(1, 151):
        stripe_api.put_subscription(_sub(events, n))
    gateway = StripeGateway("sk_test_r", api_base=stripe_api.base_url, max_attempts=2, sleep=_no_wait)
    subscriptions = gateway._client.v1.subscriptions
    list_page = subscriptions.list_async
    pages = 0

    async def second_page_fails(*args, **kwargs):
        nonlocal pages
        pages += 1
        if pages == 2:  # the first page came back fine; Stripe fails for the second and its retry
            stripe_api.fail_next(2, status=503)
        return await list_page(*args, **kwargs)

    monkeypatch.setattr(subscriptions, "list_async", second_page_fails)
    with pytest.raises(StripeUnavailable):
        await reconcile(db=app.db, clock=app.clock, stripe=gateway, memberships=app.memberships)
    assert pages == 3  # page 1, page 2, page 2 retried
    assert await member_state(app, "telegram:9001") is None


async def test_transient_server_errors_are_retried(app: App, stripe_api, events):
    stripe_api.put_subscription(_sub(events, 4))
    stripe_api.fail_next(2, status=500)
    report = await _reconcile(app, stripe_api, max_attempts=3)
    assert report.subscriptions_seen == 1
