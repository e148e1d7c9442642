"""Admin comps (`/grant`, `/revoke`) never fake money state; `/members` counts and pages the members."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from storefront.app import App
from storefront.clock import ManualClock
from storefront.db.tables import billing_events, subscriptions
from storefront.demo.stripe_events import StripeEvents
from tests.bots.conftest import ADMIN_TELEGRAM, FAN, TelegramChats, only_text
from tests.helpers import WebhookSender, member_state, outbox_rows

IDENTITY = f"telegram:{FAN}"


async def count(app: App, table: sa.Table) -> int:
    async with app.db.read() as conn:
        return await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0


async def test_a_comp_grants_access_without_inventing_a_subscription_or_payment(
    telegram: TelegramChats, app: App
) -> None:
    await telegram.say(ADMIN_TELEGRAM, f"/grant {IDENTITY} fan 30")

    assert (await member_state(app, IDENTITY))["granted_tier"] == "fan"
    assert await count(app, subscriptions) == await count(app, billing_events) == 0
    [access] = await outbox_rows(app, "access")
    assert access["payload"]["grant"] == {
        "discord_role_ids": [1100000000000000001],
        "telegram_chat_ids": [-1001000000001],
    }
    assert [row["payload"]["template"] for row in await outbox_rows(app, "notify")] == ["welcome"]
    me = only_text(await telegram.say(FAN, "/me"))
    assert "Tier: Fan\nComplimentary Fan until 21 Oct 2026\nDownloads left this month: 20" in me


async def test_a_comp_ends_by_itself_when_its_days_are_over(
    telegram: TelegramChats, app: App, clock: ManualClock
) -> None:
    await telegram.say(ADMIN_TELEGRAM, f"/grant {IDENTITY} fan 7")

    clock.advance(timedelta(days=7, seconds=1))
    changes = await app.expire_due_access()

    assert [(c.from_tier, c.to_tier) for c in changes] == [("fan", None)]
    assert (await member_state(app, IDENTITY))["granted_tier"] is None
    assert [row["payload"]["template"] for row in await outbox_rows(app, "notify")] == ["welcome", "access_ended"]
    assert await app.expire_due_access() == []  # swept once


async def test_revoking_a_comp_leaves_a_paid_membership_as_stripe_says(
    telegram: TelegramChats, app: App, webhook: WebhookSender, events: StripeEvents
) -> None:
    sub = events.subscription(
        sub_id="sub_1", customer="cus_1", member=IDENTITY, price_id="price_demo_fan_month", unit_amount=500
    )
    await webhook.send(events.event("customer.subscription.created", sub))
    await app.worker.drain()
    await telegram.say(ADMIN_TELEGRAM, f"/grant {IDENTITY} brand")
    assert (await member_state(app, IDENTITY))["granted_tier"] == "brand"

    reply = only_text(await telegram.say(ADMIN_TELEGRAM, f"/revoke {IDENTITY}"))

    assert reply == f"Comp revoked\nThe comp of {IDENTITY} has ended.\nAccess now: Fan."
    state = await member_state(app, IDENTITY)
    assert (state["granted_tier"], state["subscriptions"][0]["status"]) == ("fan", "active")


async def test_a_new_grant_replaces_the_comp_in_force(telegram: TelegramChats, app: App) -> None:
    await telegram.say(ADMIN_TELEGRAM, f"/grant {IDENTITY} brand 30")

    await telegram.say(ADMIN_TELEGRAM, f"/grant {IDENTITY} fan")

    assert (await member_state(app, IDENTITY))["granted_tier"] == "fan"
    only_text(await telegram.say(ADMIN_TELEGRAM, f"/revoke {IDENTITY}"))
    assert (await member_state(app, IDENTITY))["granted_tier"] is None


async def test_members_counts_each_tier_and_status_and_lists_a_page(
    telegram: TelegramChats, app: App, webhook: WebhookSender, events: StripeEvents
) -> None:
    sub = events.subscription(
        sub_id="sub_1", customer="cus_1", member=IDENTITY, price_id="price_demo_fan_month", unit_amount=500
    )
    await webhook.send(events.event("customer.subscription.created", sub))
    await app.worker.drain()
    await telegram.say(ADMIN_TELEGRAM, "/grant discord:77 creator 30")

    [reply] = await telegram.say(ADMIN_TELEGRAM, "/members")

    lines = reply["text"].splitlines()
    assert lines[0] == "Members: page 1 of 1 (2 listed)"
    assert lines[1] == "With access now: creator 1, fan 1"
    assert lines[2] == "Subscriptions and comps: creator comp 1, fan active 1"
    assert lines[4:] == [
        "#1 telegram:1001, stripe:cus_1 | access: fan | fan active",
        "#2 discord:77 | access: creator | creator comp",
    ]
    assert "reply_markup" not in reply


async def test_members_pages_ten_at_a_time_with_a_next_button(telegram: TelegramChats, app: App) -> None:
    for n in range(12):
        await telegram.say(ADMIN_TELEGRAM, f"/grant discord:{500 + n} fan")

    [first] = await telegram.say(ADMIN_TELEGRAM, "/members")
    [second] = await telegram.press(ADMIN_TELEGRAM, first, "Next")

    assert first["text"].startswith("Members: page 1 of 2 (12 listed)")
    assert len([line for line in first["text"].splitlines() if line.startswith("#")]) == 10
    assert second["text"].startswith("Members: page 2 of 2 (12 listed)")
    assert [line.split(" |")[0] for line in second["text"].splitlines() if line.startswith("#")] == [
        "#11 discord:510",
        "#12 discord:511",
    ]
    assert second["reply_markup"]["inline_keyboard"] == [[{"text": "Previous", "callback_data": "sf:members 1"}]]


async def test_a_fan_pressing_an_admins_button_is_refused(telegram: TelegramChats) -> None:
    for n in range(11):
        await telegram.say(ADMIN_TELEGRAM, f"/grant discord:{500 + n} fan")
    [first] = await telegram.say(ADMIN_TELEGRAM, "/members")

    [reply] = await telegram.press(FAN, first, "Next")

    assert reply["text"] == "Sorry, /members is only for the team running this shop; nothing was changed."
