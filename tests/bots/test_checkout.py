"""Checkout and Billing Portal sessions, created against the Stripe stand-in that validates like Stripe."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from bots.services import BotServices
from storefront.app import App
from storefront.checkout import AlreadySubscribed, NoBillingAccount
from storefront.clock import ManualClock
from storefront.db.tables import members
from storefront.demo.stripe_events import StripeEvents
from storefront.members import attach_identity, ensure_member
from storefront.standins.stripe_api import StripeStandIn
from tests.bots.conftest import FAN, TelegramChats, a_customer, only_text
from tests.helpers import WebhookSender

IDENTITY = f"telegram:{FAN}"


def last_checkout_params(stripe_api: StripeStandIn) -> dict[str, Any]:
    return next(r.params for r in reversed(stripe_api.requests) if r.path == "/v1/checkout/sessions")


async def test_checkout_carries_the_identity_allows_promotion_codes_and_offers_the_trial(
    services: BotServices, stripe_api: StripeStandIn
) -> None:
    link = await services.checkout.subscribe(IDENTITY, "fan")

    [session] = stripe_api.created_checkout_sessions()
    params = last_checkout_params(stripe_api)
    assert (session["mode"], session["client_reference_id"], session["allow_promotion_codes"]) == (
        "subscription",
        IDENTITY,
        True,
    )
    assert params["subscription_data"] == {
        "metadata": {"member": IDENTITY, "tier": "fan"},
        "trial_period_days": "7",
    }
    assert params["line_items"] == [{"price": "price_demo_fan_month", "quantity": "1"}]
    assert session["success_url"] == "http://127.0.0.1:8080/checkout/success?session_id={CHECKOUT_SESSION_ID}"
    assert session["cancel_url"] == "http://127.0.0.1:8080/checkout/cancel"
    assert (link.url, link.trial_days, link.amount_minor) == (session["url"], 7, 500)


async def test_the_annual_option_uses_the_annual_price(services: BotServices, stripe_api: StripeStandIn) -> None:
    link = await services.checkout.subscribe(IDENTITY, "fan", "year")

    assert last_checkout_params(stripe_api)["line_items"][0]["price"] == "price_demo_fan_year"
    assert (link.amount_minor, link.interval) == (5000, "year")


async def test_no_second_free_trial_for_someone_who_had_one(
    telegram: TelegramChats, app: App, stripe_api: StripeStandIn, clock: ManualClock
) -> None:
    async with app.db.write() as conn:
        member_id = await ensure_member(conn, IDENTITY, clock.now() - timedelta(days=90))
        await conn.execute(
            sa.update(members).where(members.c.id == member_id).values(trial_used_at=clock.now() - timedelta(days=60))
        )

    reply = only_text(await telegram.say(FAN, "/subscribe fan"))

    assert "trial_period_days" not in last_checkout_params(stripe_api)["subscription_data"]
    assert "Your free trial was already used, so billing starts today." in reply


async def test_a_tier_without_a_trial_offers_none(services: BotServices, stripe_api: StripeStandIn) -> None:
    await services.checkout.subscribe(IDENTITY, "creator")

    assert "trial_period_days" not in last_checkout_params(stripe_api)["subscription_data"]


async def test_a_returning_customer_checks_out_as_the_same_stripe_customer(
    services: BotServices, app: App, stripe_api: StripeStandIn, clock: ManualClock
) -> None:
    a_customer(stripe_api, "cus_returning")
    async with app.db.write() as conn:
        member_id = await ensure_member(conn, IDENTITY, clock.now())
        await attach_identity(conn, member_id, "stripe:cus_returning", clock.now())

    await services.checkout.subscribe(IDENTITY, "fan")

    assert stripe_api.created_checkout_sessions()[0]["customer"] == "cus_returning"


async def test_asking_twice_within_minutes_gives_the_same_checkout_session(
    services: BotServices, stripe_api: StripeStandIn
) -> None:
    first = await services.checkout.subscribe(IDENTITY, "fan")
    second = await services.checkout.subscribe(IDENTITY, "fan")

    assert first.session_id == second.session_id
    assert len(stripe_api.created_checkout_sessions()) == 1


async def test_a_member_with_a_running_subscription_is_sent_to_manage_instead(
    services: BotServices, webhook: WebhookSender, events: StripeEvents, app: App, stripe_api: StripeStandIn
) -> None:
    sub = events.subscription(
        sub_id="sub_1", customer="cus_1", member=IDENTITY, price_id="price_demo_fan_month", unit_amount=500
    )
    await webhook.send(events.event("customer.subscription.created", sub))
    await app.worker.drain()

    with pytest.raises(AlreadySubscribed, match=r"You already have Fan \(active\); use /manage"):
        await services.checkout.subscribe(IDENTITY, "creator")
    assert stripe_api.created_checkout_sessions() == []


async def test_manage_opens_the_billing_portal_of_the_members_customer(
    telegram: TelegramChats, app: App, stripe_api: StripeStandIn, clock: ManualClock
) -> None:
    a_customer(stripe_api, "cus_portal")
    async with app.db.write() as conn:
        await attach_identity(conn, await ensure_member(conn, IDENTITY, clock.now()), "stripe:cus_portal", clock.now())

    [reply] = await telegram.say(FAN, "/manage")

    [portal] = [r for r in stripe_api.requests if r.path == "/v1/billing_portal/sessions"]
    assert portal.params["customer"] == "cus_portal"
    [[button]] = reply["reply_markup"]["inline_keyboard"]
    assert button["text"] == "Open billing portal"
    assert button["url"].startswith("https://billing.stripe.com/p/session/")


async def test_manage_without_a_billing_account_is_a_clear_typed_error(services: BotServices) -> None:
    with pytest.raises(NoBillingAccount, match="subscribe first with /subscribe"):
        await services.checkout.portal(IDENTITY)


async def test_when_stripe_is_down_subscribe_says_so_in_one_line(
    telegram: TelegramChats, stripe_api: StripeStandIn
) -> None:
    stripe_api.fail_next(5, 500)

    reply = only_text(await telegram.say(FAN, "/subscribe fan"))

    assert reply == "Stripe is not answering right now; please try again in a minute."
    assert stripe_api.created_checkout_sessions() == []


async def test_without_stripe_configured_subscribe_explains(telegram: TelegramChats, services: BotServices) -> None:
    services.checkout._stripe = None

    reply = only_text(await telegram.say(FAN, "/subscribe fan"))

    assert reply == "Payments are not set up yet; please ask the team to connect Stripe."
