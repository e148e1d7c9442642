"""One paid extra request over the quota: a Stripe Checkout, and only Stripe's word puts it in the queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from entitlements.request_payments import ExtraRequestCheckoutFailed, RequestPayments
from entitlements.request_tables import request_payments
from entitlements.requests import Brief, RequestQuotaUsed, RequestService, RequestStatus
from storefront.app import App
from storefront.clock import ManualClock
from storefront.standins.stripe_api import StripeStandIn
from tests.requests.conftest import (
    EXTRA_PRICE,
    a_member,
    a_paid_extra,
    an_extra,
    checkout_of,
    let_expire,
    over_quota,
    pay,
    request_notices,
)

BRAND = "telegram:5001"
CREATOR = "telegram:9001"


async def payment_row(app: App, request_id: int) -> sa.Row:
    async with app.db.read() as conn:
        return (
            await conn.execute(sa.select(request_payments).where(request_payments.c.request_id == request_id))
        ).one()


async def test_over_quota_a_brand_member_gets_a_checkout_for_one_extra_request(
    app: App, webhook, events, requests: RequestService, stripe_api: StripeStandIn, clock: ManualClock
):
    await a_member(app, webhook, events, BRAND)
    await over_quota(requests, BRAND)

    sent = await requests.submit(BRAND, Brief("a third, paid", format="SVG"))
    assert sent.request.status is RequestStatus.AWAITING_PAYMENT and sent.request.paid_extra
    assert sent.checkout is not None and (sent.checkout.amount_minor, sent.checkout.currency) == (EXTRA_PRICE, "usd")
    assert sent.resets_at.day == 1 and (sent.used, sent.quota) == (2, 2)
    session = checkout_of(stripe_api, sent.request.id)
    assert session["url"] == sent.checkout.url and session["mode"] == "payment"
    assert session["amount_total"] == EXTRA_PRICE
    assert session["metadata"] == {"kind": "request", "request": str(sent.request.id), "member": BRAND}
    assert session["expires_at"] == int(sent.checkout.pay_before.timestamp())
    assert datetime.fromtimestamp(session["expires_at"], UTC) - clock.now() >= timedelta(minutes=30)
    assert [r.brief.what for r in await requests.queue()] == ["one", "two"], "unpaid: not in the creators' queue"
    assert [n["key"] for n in await request_notices(app)] == ["request:1:submitted", "request:2:submitted"]


async def test_asking_again_while_paying_returns_the_same_checkout(
    app: App, webhook, events, requests: RequestService, stripe_api: StripeStandIn
):
    await a_member(app, webhook, events, BRAND)
    await over_quota(requests, BRAND)
    first = await requests.submit(BRAND, Brief("a third, paid"))
    again = await requests.submit(BRAND, Brief("a third, paid (sent twice)"))

    assert again.checkout == first.checkout and again.request.id == first.request.id
    assert len(stripe_api.created_checkout_sessions()) == 1
    assert [r.status for r in await requests.mine(BRAND)].count(RequestStatus.AWAITING_PAYMENT) == 1


async def test_a_paid_extra_joins_the_queue_due_from_its_payment_and_uses_no_quota(
    app: App, webhook, events, requests: RequestService, stripe_api: StripeStandIn, clock: ManualClock
):
    await a_member(app, webhook, events, BRAND)
    extra = await an_extra(requests, BRAND)
    clock.advance(timedelta(minutes=20))  # the member pays twenty minutes later
    await pay(app, webhook, events, stripe_api, extra.id)

    paid = await requests.get(extra.id)
    assert paid.status is RequestStatus.SUBMITTED
    assert paid.due_at == clock.now() + timedelta(days=5)
    assert [r.id for r in await requests.queue()][-1] == extra.id
    [notice] = [n for n in await request_notices(app) if n["key"] == f"request:{extra.id}:submitted"]
    assert notice["payload"]["text"].startswith(f"Payment received: your extra request #{extra.id}")
    assert await requests.quota_left(BRAND) == (2, 2)
    assert (await payment_row(app, extra.id)).status == "paid"


async def test_a_duplicate_completed_event_changes_nothing(
    app: App, webhook, events, requests: RequestService, stripe_api: StripeStandIn, clock: ManualClock
):
    await a_member(app, webhook, events, BRAND)
    extra = await an_extra(requests, BRAND)
    await pay(app, webhook, events, stripe_api, extra.id)
    before = (await requests.get(extra.id), await request_notices(app), await payment_row(app, extra.id))

    clock.advance(timedelta(hours=3))  # Stripe retries the event later (a new event id, the same session)
    await pay(app, webhook, events, stripe_api, extra.id)
    assert (await requests.get(extra.id), await request_notices(app), await payment_row(app, extra.id)) == before
    assert await requests.quota_left(BRAND) == (2, 2)


async def test_a_declined_quota_request_frees_a_free_slot_even_after_a_paid_extra(
    app: App, webhook, events, requests: RequestService, stripe_api: StripeStandIn
):
    await a_member(app, webhook, events, BRAND)
    first = (await requests.submit(BRAND, Brief("one"))).request
    await requests.submit(BRAND, Brief("two"))
    extra = (await requests.submit(BRAND, Brief("a third, paid"))).request
    await pay(app, webhook, events, stripe_api, extra.id)
    await requests.decline(first.id, "not our style", by=CREATOR)

    freed = await requests.submit(BRAND, Brief("a free one again"))
    assert freed.checkout is None and freed.request.status is RequestStatus.SUBMITTED
    assert (freed.used, freed.quota) == (2, 2)


async def test_an_expired_checkout_leaves_nothing_in_the_queue_and_sends_nothing(
    app: App, webhook, events, requests: RequestService, stripe_api: StripeStandIn
):
    await a_member(app, webhook, events, BRAND)
    extra = await an_extra(requests, BRAND, "a third, never paid")
    notices = await request_notices(app)
    await let_expire(app, webhook, events, stripe_api, extra.id)

    assert (await requests.get(extra.id)).status is RequestStatus.PAYMENT_EXPIRED
    assert extra.id not in [r.id for r in await requests.queue()]
    assert await request_notices(app) == notices
    assert await requests.quota_left(BRAND) == (2, 2)
    again = await requests.submit(BRAND, Brief("a third, second try"))
    assert again.request.id != extra.id and again.checkout is not None
    assert len(stripe_api.created_checkout_sessions()) == 2


async def test_when_stripe_fails_the_request_is_marked_failed_and_the_member_told_in_one_line(
    app: App, webhook, events, requests: RequestService, stripe_api: StripeStandIn
):
    await a_member(app, webhook, events, BRAND)
    await over_quota(requests, BRAND)
    stripe_api.fail_next(20, status=503)
    with pytest.raises(ExtraRequestCheckoutFailed) as failed:
        await requests.submit(BRAND, Brief("a third, paid"))
    message = str(failed.value)
    assert "\n" not in message and "resets on 01 Oct 2026" in message and "could not be opened" in message
    [extra] = [r for r in await requests.mine(BRAND) if r.paid_extra]
    assert extra.status is RequestStatus.PAYMENT_FAILED
    assert (await payment_row(app, extra.id)).status == "failed"
    assert len(await requests.queue()) == 2


async def test_without_stripe_or_without_a_price_over_quota_only_says_when_it_resets(
    app: App, webhook, events, requests: RequestService
):
    await a_member(app, webhook, events, BRAND)
    await over_quota(requests, BRAND)
    no_stripe = RequestPayments(
        db=app.db, clock=app.clock, catalog=app.catalog, stripe=None, public_base_url="http://shop"
    )
    grants = app.catalog.tiers["brand"].grants.model_copy(update={"extra_request_price": None})
    unpriced = app.catalog.model_copy(
        update={
            "tiers": {**app.catalog.tiers, "brand": app.catalog.tiers["brand"].model_copy(update={"grants": grants})}
        }
    )
    for service in (
        RequestService(app.db, app.clock, app.catalog, payments=no_stripe),
        RequestService(app.db, app.clock, unpriced, payments=app.request_payments),
    ):
        with pytest.raises(RequestQuotaUsed, match="resets on 01 Oct 2026") as refused:
            await service.submit(BRAND, Brief("a third"))
        assert type(refused.value) is RequestQuotaUsed
    assert len(await requests.mine(BRAND)) == 2


async def test_a_full_refund_declines_an_open_paid_request(
    app: App, webhook, events, requests: RequestService, stripe_api: StripeStandIn
):
    extra, intent = await a_paid_extra(app, webhook, events, stripe_api, requests, BRAND)
    await requests.accept(extra.id, by=CREATOR)

    partial = events.charge(customer=None, amount=EXTRA_PRICE, refunded_amount=1000, payment_intent=intent)
    await webhook.send(events.event("charge.refunded", partial))
    await app.worker.drain()
    assert (await requests.get(extra.id)).status is RequestStatus.ACCEPTED, "a goodwill discount keeps it"

    full = events.charge(customer=None, amount=EXTRA_PRICE, refunded_amount=EXTRA_PRICE, payment_intent=intent)
    await webhook.send(events.event("charge.refunded", full))
    await app.worker.drain()
    declined = await requests.get(extra.id)
    assert declined.status is RequestStatus.DECLINED and declined.decline_reason == "payment refunded"
    assert extra.id not in [r.id for r in await requests.queue()]
    [notice] = [n for n in await request_notices(app) if n["key"] == f"request:{extra.id}:declined"]
    assert "declined: payment refunded." in notice["payload"]["text"]
    assert (await payment_row(app, extra.id)).status == "refunded"


async def test_a_dispute_declines_an_open_paid_request(
    app: App, webhook, events, requests: RequestService, stripe_api: StripeStandIn
):
    extra, intent = await a_paid_extra(app, webhook, events, stripe_api, requests, BRAND)

    dispute = events.dispute(charge_id="ch_disputed", amount=EXTRA_PRICE, payment_intent=intent)
    await webhook.send(events.event("charge.dispute.created", dispute))
    await webhook.send(events.event("charge.dispute.created", dispute))  # twice: one decline, one notice
    await app.worker.drain()
    declined = await requests.get(extra.id)
    assert declined.status is RequestStatus.DECLINED and declined.decline_reason == "payment disputed"
    assert [n["key"] for n in await request_notices(app)].count(f"request:{extra.id}:declined") == 1


async def test_a_payment_that_arrives_after_its_checkout_expired_is_honoured(
    app: App, webhook, events, requests: RequestService, stripe_api: StripeStandIn, clock: ManualClock
):
    await a_member(app, webhook, events, BRAND)
    extra = await an_extra(requests, BRAND, "a third, paid at the last second")
    await let_expire(app, webhook, events, stripe_api, extra.id)  # delivered out of order, before the payment
    await pay(app, webhook, events, stripe_api, extra.id)

    paid = await requests.get(extra.id)
    assert paid.status is RequestStatus.SUBMITTED and paid.due_at == clock.now() + timedelta(days=5)
    assert (await payment_row(app, extra.id)).status == "paid"
