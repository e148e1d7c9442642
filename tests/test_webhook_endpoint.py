"""The webhook endpoint stores only correctly signed Stripe events, and answers 200 only after storing."""

from __future__ import annotations

import asyncio
import hmac
import json
import time

import aiohttp
import pytest

from storefront.app import App, Running
from storefront.config import Settings
from storefront.demo.stripe_events import StripeEvents, sign_payload
from storefront.errors import ConfigError
from tests.conftest import TEST_CATALOG
from tests.helpers import WEBHOOK_SECRET, WebhookSender, inbox_count, member_state, outbox_rows
from tests.lifecycle import full_lifecycle


@pytest.fixture
def created_event(events: StripeEvents) -> dict:
    return full_lifecycle(events)[3].event  # customer.subscription.updated -> active


async def assert_nothing_changed(app: App) -> None:
    await app.worker.drain()
    assert await inbox_count(app) == 0
    assert await member_state(app, "telegram:1001") is None
    assert await outbox_rows(app) == []


async def test_correctly_signed_event_is_stored_and_acknowledged(app: App, webhook: WebhookSender, created_event):
    reply = await webhook.send(created_event)
    assert (reply.status, reply.body) == (200, {"received": True, "duplicate": False})
    assert await inbox_count(app) == 1


async def test_forged_signature_is_rejected(app: App, webhook: WebhookSender, created_event):
    header = f"t={int(time.time())},v1={'0' * 64}"
    reply = await webhook.send(created_event, header=header)
    assert reply.status == 400
    assert "signature" in reply.body["error"]
    await assert_nothing_changed(app)


async def test_wrong_secret_is_rejected(app: App, webhook: WebhookSender, created_event):
    reply = await webhook.send(created_event, secret="whsec_someone_else")
    assert reply.status == 400
    await assert_nothing_changed(app)


async def test_signature_older_than_tolerance_is_rejected(app: App, webhook: WebhookSender, created_event):
    reply = await webhook.send(created_event, timestamp=int(time.time()) - 301)
    assert reply.status == 400
    assert "tolerance" in reply.body["error"].lower()
    await assert_nothing_changed(app)


async def test_body_changed_after_signing_is_rejected(app: App, webhook: WebhookSender, created_event):
    body = json.dumps(created_event)
    header = sign_payload(body, WEBHOOK_SECRET)
    tampered = body.replace('"active"', '"trialing"', 1)
    reply = await webhook.send(body=tampered, header=header)
    assert reply.status == 400
    await assert_nothing_changed(app)


async def test_malformed_json_is_rejected_even_when_signed(app: App, webhook: WebhookSender):
    reply = await webhook.send(body='{"id": "evt_1", "type": ')
    assert reply.status == 400
    assert "not a Stripe event" in reply.body["error"]
    await assert_nothing_changed(app)


async def test_signed_json_that_is_not_an_event_is_rejected(app: App, webhook: WebhookSender):
    reply = await webhook.send(body='{"hello": "world"}')
    assert reply.status == 400
    await assert_nothing_changed(app)


@pytest.mark.parametrize(
    ("field", "value"),
    [("id", ""), ("id", "evt_" + "x" * 125), ("type", None), ("created", "1700000000"), ("data", {"object": []})],
)
async def test_signed_event_with_a_malformed_header_is_rejected(
    app: App, webhook: WebhookSender, created_event, field, value
):
    created_event[field] = value
    reply = await webhook.send(created_event)
    assert reply.status == 400
    assert "not a Stripe event" in reply.body["error"]
    assert f"$.{field}" in reply.body["error"]  # says which field
    await assert_nothing_changed(app)


async def test_body_over_one_megabyte_is_rejected(app: App, webhook: WebhookSender, created_event):
    created_event["data"]["object"]["metadata"]["padding"] = "x" * 1_000_001
    reply = await webhook.send(created_event)
    assert reply.status == 413
    await assert_nothing_changed(app)


async def test_missing_signature_header_is_rejected(app: App, webhook: WebhookSender, created_event):
    reply = await webhook.send(created_event, omit_header=True)
    assert reply.status == 400
    assert reply.body["error"] == "missing Stripe-Signature header"
    await assert_nothing_changed(app)


async def test_duplicate_delivery_is_acknowledged_and_stored_once(app: App, webhook: WebhookSender, created_event):
    assert (await webhook.send(created_event)).body["duplicate"] is False
    assert (await webhook.send(created_event)).body["duplicate"] is True
    assert await inbox_count(app) == 1


async def test_signature_is_compared_in_constant_time(
    monkeypatch: pytest.MonkeyPatch, webhook: WebhookSender, created_event
):
    compared: list[tuple[str, str]] = []
    real_compare = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real_compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert (await webhook.send(created_event)).status == 200
    assert compared, "the signature was not compared with hmac.compare_digest"


async def test_unset_webhook_secret_stops_the_server_from_starting(db_url, clock):
    for secret in (None, "", "   "):
        settings = Settings(
            _env_file=None,
            database_url=db_url,
            catalog_path=TEST_CATALOG,
            stripe_webhook_secret=secret,
        )
        app = App(settings, clock=clock)
        with pytest.raises(ConfigError, match="STRIPE_WEBHOOK_SECRET"):
            app.web_app()
        await app.close()


async def test_health_answers_ok(server: Running):
    async with aiohttp.ClientSession() as session, session.get(f"{server.url}/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_secrets_never_reach_the_logs(app: App, webhook: WebhookSender, events, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    for step in full_lifecycle(events):
        await webhook.send(step.event)
    await webhook.send(full_lifecycle(events)[0].event, secret="whsec_wrong")
    await app.worker.drain()
    assert WEBHOOK_SECRET not in caplog.text
    assert WEBHOOK_SECRET not in repr(app.settings) and WEBHOOK_SECRET not in repr(app.web_app())


@pytest.mark.parametrize(
    ("path", "words"), [("/checkout/success", "payment went through"), ("/checkout/cancel", "Nothing was charged")]
)
async def test_people_returning_from_checkout_land_on_a_page(server: Running, path: str, words: str):
    async with aiohttp.ClientSession() as session, session.get(f"{server.url}{path}?session_id=cs_1") as response:
        assert response.status == 200
        assert words in await response.text()


async def test_concurrent_deliveries_of_one_event_store_it_once_and_say_which_was_first(
    app: App, webhook: WebhookSender, events: StripeEvents
):
    """Stripe retries while the first delivery is in flight; both answers arrive from one shared commit."""
    lifecycle = [step.event for step in full_lifecycle(events)]
    replies = await asyncio.gather(*(webhook.send(event) for event in lifecycle + lifecycle + lifecycle))
    assert {reply.status for reply in replies} == {200}
    firsts = [reply.body["duplicate"] is False for reply in replies]
    assert sum(firsts) == len(lifecycle)  # each event acknowledged as new exactly once
    assert await inbox_count(app) == len(lifecycle)


async def test_signed_event_whose_object_is_not_an_object_is_rejected(app: App, webhook: WebhookSender):
    body = json.dumps({"id": "evt_1", "type": "customer.subscription.updated", "created": 1, "data": {"object": 7}})
    reply = await webhook.send(body=body)
    assert reply.status == 400
    await assert_nothing_changed(app)
