"""`/license buy`: one-off Checkout, granted by Stripe's word, exclusive per asset, revoked by refund or dispute."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from entitlements.license_purchases import AlreadyLicensed, UnknownAsset
from entitlements.licenses import ExclusiveTaken, LicenseNotForSale, UnknownLicenseKind
from storefront.app import App, Running
from storefront.clock import ManualClock
from storefront.db.tables import outbox
from storefront.demo.stripe_events import StripeEvents
from storefront.members import find_member
from storefront.standins.stripe_api import StripeStandIn
from tests.helpers import WebhookSender
from tests.packs.builders import a_member, a_pack, download, report_paid, verdict

ADA, BO = "telegram:1001", "discord:2002"


async def pay(
    app: App, sender: WebhookSender, events: StripeEvents, stripe_api: StripeStandIn, purchase_id: int
) -> str:
    """Stripe reports the purchase's Checkout paid; returns its payment intent."""
    session = next(
        s for s in stripe_api.created_checkout_sessions() if s["metadata"].get("purchase") == str(purchase_id)
    )
    intent = f"pi_license_{purchase_id}"
    await report_paid(app, sender, events, session, intent)
    return intent


async def notes(app: App, identity: str, template: str) -> list[dict[str, Any]]:
    async with app.db.read() as conn:
        member_id = await find_member(conn, identity)
        rows = await conn.scalars(
            sa.select(outbox.c.payload).where(
                outbox.c.member_id == member_id, outbox.c.key.like(f"notify:{template}:%")
            )
        )
        return list(rows)


async def test_license_buy_opens_a_one_time_checkout_and_grants_nothing_yet(packs_app: App, stripe_api: StripeStandIn):
    asset = (await a_pack(packs_app)).assets[0]
    checkout = await packs_app.license_sales.start_checkout(ADA, asset.id, "commercial")

    [session] = stripe_api.created_checkout_sessions()
    assert session["url"] == checkout.url and session["mode"] == "payment"
    assert session["metadata"] == {
        "kind": "license",
        "purchase": str(checkout.purchase_id),
        "member": ADA,
        "asset": str(asset.id),
        "license_kind": "commercial",
    }
    assert (checkout.amount_minor, checkout.currency, session["amount_total"]) == (4900, "usd", 4900)
    assert await notes(packs_app, ADA, "license_granted") == []
    again = await packs_app.license_sales.start_checkout(ADA, asset.id, "commercial")
    assert again.url == checkout.url, "asking twice while paying gives the same Checkout"


async def test_paid_license_downloads_under_the_bought_license_even_without_a_membership(
    packs_app: App,
    sender: WebhookSender,
    events: StripeEvents,
    stripe_api: StripeStandIn,
    packs_server: Running,
    http: aiohttp.ClientSession,
):
    asset = (await a_pack(packs_app)).assets[0]
    checkout = await packs_app.license_sales.start_checkout(ADA, asset.id, "commercial")
    await pay(packs_app, sender, events, stripe_api, checkout.purchase_id)
    await pay(packs_app, sender, events, stripe_api, checkout.purchase_id)  # Stripe retries: nothing doubles

    [granted] = await notes(packs_app, ADA, "license_granted")
    assert "Commercial use license" in granted["text"]
    status, license_id, _ = await download(http, packs_server, granted["buttons"][0]["url"])
    assert status == 302 and license_id
    async with http.get(f"{packs_server.url}/license/{license_id}/certificate") as response:
        certificate = json.loads(await response.read())["certificate"]
    assert certificate["license"]["kind"] == "commercial"
    assert certificate["source"] == {"type": "purchase", "ref": str(checkout.purchase_id)}
    with pytest.raises(AlreadyLicensed):
        await packs_app.license_sales.start_checkout(ADA, asset.id, "commercial")


async def test_second_buyer_of_an_exclusive_license_is_refused_for_its_duration(
    packs_app: App, sender: WebhookSender, events: StripeEvents, stripe_api: StripeStandIn, clock: ManualClock
):
    asset = (await a_pack(packs_app)).assets[0]
    first = await packs_app.license_sales.start_checkout(ADA, asset.id, "exclusive")
    with pytest.raises(ExclusiveTaken, match="right now") as while_paying:
        await packs_app.license_sales.start_checkout(BO, asset.id, "exclusive")
    assert while_paying.value.pending

    await pay(packs_app, sender, events, stripe_api, first.purchase_id)
    with pytest.raises(ExclusiveTaken, match="licensed exclusively") as after:
        await packs_app.license_sales.start_checkout(BO, asset.id, "exclusive")
    assert after.value.until == clock.now() + timedelta(days=365)
    assert len(stripe_api.created_checkout_sessions()) == 1, "the refused buyer never reached Stripe"

    clock.advance(timedelta(days=366))
    second = await packs_app.license_sales.start_checkout(BO, asset.id, "exclusive")
    assert second.url


async def test_abandoned_exclusive_checkout_frees_the_asset(
    packs_app: App, sender: WebhookSender, events: StripeEvents, stripe_api: StripeStandIn
):
    asset = (await a_pack(packs_app)).assets[0]
    first = await packs_app.license_sales.start_checkout(ADA, asset.id, "exclusive")
    [session] = stripe_api.created_checkout_sessions()
    expired = events.checkout_session(
        mode="payment",
        client_reference_id=ADA,
        customer=None,
        metadata=session["metadata"],
        status="expired",
        payment_status="unpaid",
    )
    expired["id"] = session["id"]
    await sender.send(events.event("checkout.session.expired", expired))
    await packs_app.worker.drain()

    second = await packs_app.license_sales.start_checkout(BO, asset.id, "exclusive")
    assert second.purchase_id != first.purchase_id


@pytest.mark.parametrize("how", ["refund", "dispute", "dispute naming only the charge"])
async def test_refund_or_dispute_revokes_the_license_and_verification_says_revoked(
    packs_app: App,
    sender: WebhookSender,
    events: StripeEvents,
    stripe_api: StripeStandIn,
    packs_server: Running,
    http: aiohttp.ClientSession,
    how: str,
):
    await a_member(packs_app, sender, events, ADA, tier="fan")
    asset = (await a_pack(packs_app)).assets[0]
    checkout = await packs_app.license_sales.start_checkout(ADA, asset.id, "exclusive")
    intent = await pay(packs_app, sender, events, stripe_api, checkout.purchase_id)
    [granted] = await notes(packs_app, ADA, "license_granted")
    status, license_id, _ = await download(http, packs_server, granted["buttons"][0]["url"])
    assert status == 302 and license_id
    assert await verdict(http, packs_server, license_id) == "VALID"

    if how == "refund":
        event = events.event(
            "charge.refunded", events.charge(customer=None, amount=50000, refunded_amount=50000, payment_intent=intent)
        )
    elif how == "dispute":
        event = events.event(
            "charge.dispute.created", events.dispute(charge_id="ch_disputed", amount=50000, payment_intent=intent)
        )
    else:  # the storefront asks Stripe which payment the disputed charge belongs to
        charge = events.charge(customer=None, amount=50000, payment_intent=intent)
        stripe_api.put_charge(charge)
        event = events.event("charge.dispute.created", events.dispute(charge_id=charge["id"], amount=50000))
    assert (await sender.send(event)).status == 200
    await packs_app.worker.drain()

    assert await verdict(http, packs_server, license_id) == "REVOKED"
    assert (await download(http, packs_server, granted["buttons"][0]["url"]))[0] == 403
    assert len(await notes(packs_app, ADA, "license_revoked")) == 1
    assert (await packs_app.packs.packs_for(ADA)).tier_name == "Fan", "the membership is not touched"
    await packs_app.license_sales.start_checkout(BO, asset.id, "exclusive")  # exclusivity ended with it


async def test_partial_refund_keeps_the_license(
    packs_app: App,
    sender: WebhookSender,
    events: StripeEvents,
    stripe_api: StripeStandIn,
    packs_server: Running,
    http: aiohttp.ClientSession,
):
    asset = (await a_pack(packs_app)).assets[0]
    checkout = await packs_app.license_sales.start_checkout(ADA, asset.id, "commercial")
    intent = await pay(packs_app, sender, events, stripe_api, checkout.purchase_id)
    charge = events.charge(customer=None, amount=4900, refunded_amount=900, payment_intent=intent)
    await sender.send(events.event("charge.refunded", charge))
    await packs_app.worker.drain()
    [granted] = await notes(packs_app, ADA, "license_granted")
    status, license_id, _ = await download(http, packs_server, granted["buttons"][0]["url"])
    assert status == 302 and await verdict(http, packs_server, license_id or "") == "VALID"


async def test_bad_license_requests_get_a_clear_answer_and_change_nothing(packs_app: App, stripe_api: StripeStandIn):
    asset = (await a_pack(packs_app)).assets[0]
    with pytest.raises(LicenseNotForSale, match="Personal use"):
        await packs_app.license_sales.start_checkout(ADA, asset.id, "personal")
    with pytest.raises(UnknownLicenseKind, match="choose one of"):
        await packs_app.license_sales.start_checkout(ADA, asset.id, "forever")
    with pytest.raises(UnknownAsset, match="no file 999"):
        await packs_app.license_sales.start_checkout(ADA, 999, "commercial")
    assert stripe_api.created_checkout_sessions() == []


async def test_stripe_failing_to_open_the_checkout_frees_the_exclusive_reservation(
    packs_app: App, stripe_api: StripeStandIn
):
    from storefront.errors import StripeUnavailable

    asset = (await a_pack(packs_app)).assets[0]
    stripe_api.fail_next(1, status=400)
    with pytest.raises(StripeUnavailable):
        await packs_app.license_sales.start_checkout(ADA, asset.id, "exclusive")
    retry = await packs_app.license_sales.start_checkout(BO, asset.id, "exclusive")
    assert retry.url
