"""A subscriber's life through the real webhook endpoint, in order, shuffled and duplicated."""

from __future__ import annotations

import random

import pytest

from storefront.app import App
from storefront.demo.stripe_events import StripeEvents
from tests.helpers import WebhookSender, member_state, outbox_rows
from tests.lifecycle import full_lifecycle


async def test_lifecycle_in_order_reaches_each_state(app: App, webhook: WebhookSender, events: StripeEvents):
    for step in full_lifecycle(events):
        reply = await webhook.send(step.event)
        assert reply.status == 200, reply.body
        await app.worker.drain()
        state = await member_state(app, "telegram:1001")
        assert state is not None
        assert state["subscriptions"][0]["status"] == step.status, step.event["type"]
        assert state["granted_tier"] == step.granted_tier, step.event["type"]

    sub = (await member_state(app, "telegram:1001"))["subscriptions"][0]
    assert sub["end_reason"] == "cancellation_requested"
    assert sub["cancellation_feedback"] == "too_expensive"
    assert sub["cancellation_comment"] == "money"


async def test_lifecycle_writes_each_access_change_once(app: App, webhook: WebhookSender, events: StripeEvents):
    for step in full_lifecycle(events):
        await webhook.send(step.event)
    await app.worker.drain()

    access = [row["payload"] for row in await outbox_rows(app, "access")]
    assert [(a["from_tier"], a["to_tier"]) for a in access] == [(None, "fan"), ("fan", "creator"), ("creator", None)]
    assert access[0]["grant"] == {"discord_role_ids": [1100000000000000001], "telegram_chat_ids": [-1001000000001]}
    # Fan and Creator share a Telegram channel: switching tier swaps the role and leaves the channel alone.
    assert access[1]["grant"] == {"discord_role_ids": [1100000000000000002], "telegram_chat_ids": []}
    assert access[1]["revoke"] == {"discord_role_ids": [1100000000000000001], "telegram_chat_ids": []}
    notes = [row["payload"]["template"] for row in await outbox_rows(app, "notify")]
    assert notes == ["welcome", "payment_failed", "access_ended"]


@pytest.mark.parametrize("seed", range(12))
async def test_shuffled_duplicated_delivery_ends_in_the_same_state(
    app: App, webhook: WebhookSender, events: StripeEvents, seed: int
):
    rng = random.Random(seed)
    steps = full_lifecycle(events)
    deliveries = [step.event for step in steps] + [step.event for step in steps if rng.random() < 0.5]
    rng.shuffle(deliveries)

    for event in deliveries:
        reply = await webhook.send(event)
        assert reply.status == 200
        if rng.random() < 0.5:
            await app.worker.drain()
    await app.worker.drain()

    state = await member_state(app, "telegram:1001")
    assert state["granted_tier"] is None
    sub = state["subscriptions"][0]
    assert (sub["status"], sub["tier"], sub["cancellation_feedback"]) == ("ended", "creator", "too_expensive")

    # Whatever the order, access changes form one chain: nothing granted twice, nothing revoked twice.
    access = [row["payload"] for row in await outbox_rows(app, "access")]
    chain = [None] + [change["to_tier"] for change in access]
    assert [change["from_tier"] for change in access] == chain[:-1]
    assert chain[-1] is None
    templates = [row["payload"]["template"] for row in await outbox_rows(app, "notify")]
    assert templates.count("welcome") == templates.count("access_ended") == chain.count(None) - 1

    rows_before = len(await outbox_rows(app))
    for event in deliveries:
        assert (await webhook.send(event)).body["duplicate"] is True
    await app.worker.drain()
    assert len(await outbox_rows(app)) == rows_before
