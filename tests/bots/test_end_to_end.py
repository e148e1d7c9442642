"""A fan subscribes in Telegram, Stripe's signed webhooks arrive, and the bot knows the fan is a member."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from entitlements.asset_tables import download_quota_usage
from entitlements.comps import grant_comp
from storefront.app import App
from storefront.clock import ManualClock
from storefront.demo.stripe_events import StripeEvents
from storefront.members import find_member
from storefront.months import month_of
from storefront.standins.stripe_api import StripeStandIn
from tests.bots.conftest import FAN, TelegramChats, a_customer, only_text
from tests.helpers import WebhookSender, member_state

PERIOD_END = 1_792_000_000  # 2026-10-14


async def pay_checkout(
    webhook: WebhookSender, events: StripeEvents, app: App, session: dict[str, Any], params: dict[str, Any]
) -> None:
    """What Stripe sends after the fan paid on the Checkout page of `session`."""
    member = params["subscription_data"]["metadata"]["member"]
    completed = events.checkout_session(
        mode="subscription",
        client_reference_id=session["client_reference_id"],
        customer="cus_e2e",
        subscription="sub_e2e",
        amount_total=session["amount_total"],
    )
    subscription = events.subscription(
        sub_id="sub_e2e",
        customer="cus_e2e",
        member=member,
        price_id=params["line_items"][0]["price"],
        unit_amount=session["amount_total"],
        current_period_end=PERIOD_END,
    )
    invoice = events.invoice(
        sub_id="sub_e2e", customer="cus_e2e", member=member, amount=500, paid=True, billing_reason="subscription_create"
    )
    for event_type, obj in (
        ("checkout.session.completed", completed),
        ("customer.subscription.created", subscription),
        ("invoice.paid", invoice),
    ):
        assert (await webhook.send(events.event(event_type, obj))).status == 200
    await app.worker.drain()


async def test_a_fan_subscribes_in_telegram_pays_and_me_shows_the_tier(
    telegram: TelegramChats, webhook: WebhookSender, events: StripeEvents, app: App, stripe_api: StripeStandIn
) -> None:
    assert only_text(await telegram.say(FAN, "/me")).startswith("Your membership\nYou have no membership yet.")

    [offer] = await telegram.say(FAN, "/subscribe fan")
    [session] = stripe_api.created_checkout_sessions()
    params = next(r.params for r in stripe_api.requests if r.path == "/v1/checkout/sessions")
    await pay_checkout(webhook, events, app, session, params)

    assert offer["reply_markup"]["inline_keyboard"][0][0]["url"] == session["url"]
    assert (await member_state(app, f"telegram:{FAN}"))["granted_tier"] == "fan"
    [me] = await telegram.say(FAN, "/me")
    assert me["text"] == (
        "Your membership\n"
        "Tier: Fan\n"
        "Status: active, renews on 14 Oct 2026\n"
        "Downloads left this month: 20\n"
        "Linked accounts: Telegram"
    )
    assert me["reply_markup"]["inline_keyboard"] == [[{"text": "Manage billing", "callback_data": "sf:manage"}]]


async def test_after_paying_the_fan_opens_the_billing_portal_from_the_me_button(
    telegram: TelegramChats, webhook: WebhookSender, events: StripeEvents, app: App, stripe_api: StripeStandIn
) -> None:
    await telegram.say(FAN, "/subscribe fan")
    [session] = stripe_api.created_checkout_sessions()
    params = next(r.params for r in stripe_api.requests if r.path == "/v1/checkout/sessions")
    a_customer(stripe_api, "cus_e2e")  # the customer Stripe created at checkout
    await pay_checkout(webhook, events, app, session, params)
    [me] = await telegram.say(FAN, "/me")

    [portal] = await telegram.press(FAN, me, "Manage billing")

    assert portal["text"].startswith("Manage your membership")
    customers = [r.params["customer"] for r in stripe_api.requests if r.path == "/v1/billing_portal/sessions"]
    assert customers == ["cus_e2e"]


async def test_me_counts_the_downloads_left_this_month(telegram: TelegramChats, app: App, clock: ManualClock) -> None:
    async with app.db.write() as conn:
        await grant_comp(
            conn,
            app.memberships,
            identity=f"telegram:{FAN}",
            tier_key="fan",
            days=None,
            granted_by="test",
            now=clock.now(),
        )
        member_id = await find_member(conn, f"telegram:{FAN}")
        await conn.execute(
            sa.insert(download_quota_usage).values(member_id=member_id, period=month_of(clock.now()), used=3)
        )

    assert "Downloads left this month: 17\n" in only_text(await telegram.say(FAN, "/me"))
