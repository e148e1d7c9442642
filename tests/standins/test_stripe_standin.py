"""The Stripe stand-in, driven by the real stripe-python client over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import stripe

from storefront.standins.stripe_api import StripeStandIn, parse_bracket_params
from storefront.stripe_fixtures import load_fixture

# stripe-python's HTTPXClient hands httpx the form body as `data=<str>`, which httpx 0.28 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


class StepTimer:
    """A monotonic timer that only moves when told to, for the rate-limit window."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture
def timer() -> StepTimer:
    return StepTimer()


@pytest.fixture
async def stripe_api(timer: StepTimer) -> AsyncIterator[StripeStandIn]:
    async with StripeStandIn(timer=timer) as standin:
        yield standin


@pytest.fixture
async def http_client() -> AsyncIterator[stripe.HTTPXClient]:
    http = stripe.HTTPXClient()
    yield http
    await http.close_async()


@pytest.fixture
def client(stripe_api: StripeStandIn, http_client: stripe.HTTPXClient) -> stripe.StripeClient:
    return a_client(stripe_api, http_client)


def a_client(
    stripe_api: StripeStandIn, http_client: stripe.HTTPXClient, api_key: str = "sk_test_standin"
) -> stripe.StripeClient:
    return stripe.StripeClient(api_key, base_addresses={"api": stripe_api.base_url}, http_client=http_client)


async def a_monthly_price(client: stripe.StripeClient, unit_amount: int = 500) -> stripe.Price:
    product = await client.v1.products.create_async({"name": "Fan tier"})
    return await client.v1.prices.create_async(
        {"product": product.id, "currency": "usd", "unit_amount": unit_amount, "recurring": {"interval": "month"}}
    )


def a_subscription(number: int, *, status: str = "active", customer: str = "cus_fan") -> dict[str, Any]:
    subscription = load_fixture("subscription")
    subscription.update(id=f"sub_{number:03d}", created=1_790_000_000 + number, status=status, customer=customer)
    return subscription


async def test_serves_on_loopback_only(stripe_api: StripeStandIn) -> None:
    assert stripe_api.base_url.startswith("http://127.0.0.1:")


async def test_checkout_session_keeps_metadata_and_reference(
    stripe_api: StripeStandIn, client: stripe.StripeClient
) -> None:
    price = await a_monthly_price(client, unit_amount=500)

    session = await client.v1.checkout.sessions.create_async(
        {
            "mode": "subscription",
            "line_items": [{"price": price.id, "quantity": 2}],
            "client_reference_id": "telegram:1",
            "metadata": {"member": "telegram:1", "tier": "fan"},
            "subscription_data": {"metadata": {"member": "telegram:1"}, "trial_period_days": 7},
            "success_url": "https://example.com/thanks",
        }
    )

    assert session.id.startswith("cs_test_")
    assert session.url == f"https://checkout.stripe.com/c/pay/{session.id}"
    assert (session.status, session.mode, session.amount_total) == ("open", "subscription", 1000)
    fetched = await client.v1.checkout.sessions.retrieve_async(session.id, {"expand": ["line_items"]})
    assert fetched.metadata.to_dict() == {"member": "telegram:1", "tier": "fan"}
    assert fetched.client_reference_id == "telegram:1"
    assert [(item.price.id, item.quantity) for item in fetched.line_items.data] == [(price.id, 2)]
    assert [created["id"] for created in stripe_api.created_checkout_sessions()] == [session.id]
    recorded = next(r for r in stripe_api.requests if r.path == "/v1/checkout/sessions")
    assert recorded.params["subscription_data"] == {"metadata": {"member": "telegram:1"}, "trial_period_days": "7"}


async def test_checkout_session_without_line_items_is_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        await client.v1.checkout.sessions.create_async({"mode": "payment"})

    assert (refused.value.http_status, refused.value.param) == (400, "line_items")


async def test_checkout_session_with_a_recurring_price_in_payment_mode_is_refused(
    client: stripe.StripeClient,
) -> None:
    price = await a_monthly_price(client)

    with pytest.raises(stripe.InvalidRequestError) as refused:
        await client.v1.checkout.sessions.create_async(
            {"mode": "payment", "line_items": [{"price": price.id, "quantity": 1}]}
        )

    assert refused.value.param == "line_items[0][price]"


async def test_expired_checkout_session_cannot_be_expired_again(client: stripe.StripeClient) -> None:
    price = await a_monthly_price(client)
    session = await client.v1.checkout.sessions.create_async(
        {"mode": "subscription", "line_items": [{"price": price.id, "quantity": 1}]}
    )

    expired = await client.v1.checkout.sessions.expire_async(session.id)

    assert expired.status == "expired"
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.checkout.sessions.expire_async(session.id)


async def test_portal_session_links_back_to_the_customer(client: stripe.StripeClient) -> None:
    customer = await client.v1.customers.create_async({"metadata": {"member": "discord:7"}})

    portal = await client.v1.billing_portal.sessions.create_async(
        {"customer": customer.id, "return_url": "https://example.com/account"}
    )

    assert portal.id.startswith("bps_")
    assert portal.url.startswith("https://billing.stripe.com/p/session/")
    assert (portal.customer, portal.return_url) == (customer.id, "https://example.com/account")


async def test_subscriptions_are_listed_newest_first_in_pages(
    stripe_api: StripeStandIn, client: stripe.StripeClient
) -> None:
    for number in range(1, 6):
        stripe_api.put_subscription(a_subscription(number))
    stripe_api.put_subscription(a_subscription(6, status="canceled"))

    first_page = await client.v1.subscriptions.list_async({"limit": 2})
    every_id = [subscription.id async for subscription in first_page.auto_paging_iter()]

    assert [subscription.id for subscription in first_page.data] == ["sub_005", "sub_004"]
    assert first_page.has_more is True
    assert every_id == ["sub_005", "sub_004", "sub_003", "sub_002", "sub_001"]
    cursors = [r.params.get("starting_after") for r in stripe_api.requests if r.path == "/v1/subscriptions"]
    assert cursors == [None, "sub_004", "sub_002"]


async def test_status_all_includes_canceled_subscriptions(
    stripe_api: StripeStandIn, client: stripe.StripeClient
) -> None:
    stripe_api.put_subscription(a_subscription(1))
    stripe_api.put_subscription(a_subscription(2, status="canceled"))

    listed = await client.v1.subscriptions.list_async({"status": "all", "customer": "cus_fan"})

    assert [subscription.id for subscription in listed.data] == ["sub_002", "sub_001"]


async def test_requests_over_the_rate_limit_raise_rate_limit_error(
    stripe_api: StripeStandIn, client: stripe.StripeClient, timer: StepTimer
) -> None:
    stripe_api.rate_limit = 3

    answers = await asyncio.gather(*(client.v1.products.list_async() for _ in range(10)), return_exceptions=True)

    refused = [answer for answer in answers if isinstance(answer, stripe.RateLimitError)]
    assert (len(answers) - len(refused), len(refused)) == (3, 7)
    assert refused[0].http_status == 429
    assert refused[0].error.code == "rate_limit"
    timer.seconds += 1.0
    await client.v1.products.list_async()


async def test_fail_next_raises_api_error_then_recovers(stripe_api: StripeStandIn, client: stripe.StripeClient) -> None:
    stripe_api.fail_next(2, status=503)

    for _ in range(2):
        with pytest.raises(stripe.APIError) as failed:
            await client.v1.products.list_async()
        assert failed.value.http_status == 503

    await client.v1.products.list_async()


async def test_unknown_subscription_raises_invalid_request_error(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await client.v1.subscriptions.retrieve_async("sub_missing")

    assert (missing.value.http_status, missing.value.code, missing.value.param) == (404, "resource_missing", "id")
    assert missing.value.user_message == "No such subscription: 'sub_missing'"


async def test_seeded_charge_is_retrievable(stripe_api: StripeStandIn, client: stripe.StripeClient) -> None:
    charge = load_fixture("charge")
    charge["id"] = "ch_seeded"
    stripe_api.put_charge(charge)

    fetched = await client.v1.charges.retrieve_async("ch_seeded")

    assert (fetched.id, fetched.object) == ("ch_seeded", "charge")


async def test_expand_replaces_an_id_with_the_object(stripe_api: StripeStandIn, client: stripe.StripeClient) -> None:
    customer = await client.v1.customers.create_async({"email": "fan@example.com"})
    stripe_api.put_subscription(a_subscription(1, customer=customer.id))

    listed = await client.v1.subscriptions.list_async({"expand": ["data.customer"]})

    assert [subscription.customer.email for subscription in listed.data] == ["fan@example.com"]


async def test_unknown_route_answers_like_stripe(stripe_api: StripeStandIn) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.get(
            f"{stripe_api.base_url}/v1/nothing_here", headers={"Authorization": "Bearer sk_test_standin"}
        )

    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert answer.json()["error"]["message"].startswith("Unrecognized request URL (GET: /v1/nothing_here)")


async def test_same_idempotency_key_replays_the_first_response(
    stripe_api: StripeStandIn, client: stripe.StripeClient
) -> None:
    first = await client.v1.customers.create_async({"email": "fan@example.com"}, {"idempotency_key": "order-1"})
    again = await client.v1.customers.create_async({"email": "fan@example.com"}, {"idempotency_key": "order-1"})
    other = await client.v1.customers.create_async({"email": "fan@example.com"}, {"idempotency_key": "order-2"})

    assert again.id == first.id
    assert other.id != first.id
    assert [r.idempotency_key for r in stripe_api.requests] == ["order-1", "order-1", "order-2"]
    with pytest.raises(stripe.IdempotencyError):
        await client.v1.customers.create_async({"email": "someone@example.com"}, {"idempotency_key": "order-1"})


async def test_wrong_api_key_raises_authentication_error(
    stripe_api: StripeStandIn, http_client: stripe.HTTPXClient
) -> None:
    publishable = a_client(stripe_api, http_client, api_key="pk_test_standin")

    with pytest.raises(stripe.AuthenticationError) as refused:
        await publishable.v1.customers.create_async({"email": "fan@example.com"})

    assert refused.value.http_status == 401


def test_bracket_params_become_nested_dicts_and_lists() -> None:
    pairs = [
        ("line_items[0][price]", "price_1"),
        ("line_items[0][quantity]", "1"),
        ("line_items[1][price]", "price_2"),
        ("metadata[member]", "telegram:1"),
        ("metadata[0]", "zero"),
        ("subscription_data[metadata][member]", "telegram:1"),
        ("expand[]", "customer"),
        ("expand[]", "line_items"),
    ]

    assert parse_bracket_params(pairs) == {
        "line_items": [{"price": "price_1", "quantity": "1"}, {"price": "price_2"}],
        "metadata": {"member": "telegram:1", "0": "zero"},
        "subscription_data": {"metadata": {"member": "telegram:1"}},
        "expand": ["customer", "line_items"],
    }
