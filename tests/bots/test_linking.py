"""`/link`: one membership for a person's Telegram and Discord accounts."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from bots.discord_adapter import DiscordAdapter
from entitlements.asset_tables import download_quota_usage
from storefront.app import App
from storefront.clock import ManualClock
from storefront.db.chat_tables import member_merges
from storefront.db.tables import billing_events, members, subscriptions
from storefront.demo.stripe_events import StripeEvents
from storefront.members import ensure_member, find_member, identities_of
from storefront.months import month_of
from storefront.standins.stripe_api import StripeStandIn
from tests.bots.conftest import (
    DISCORD_FAN,
    FAN,
    FAN_ROLE,
    OTHER_FAN,
    TelegramChats,
    an_interaction,
    only_text,
    slash,
    snapshot,
)
from tests.helpers import WebhookSender, member_state, outbox_rows

TELEGRAM, DISCORD = f"telegram:{FAN}", f"discord:{DISCORD_FAN}"


async def a_code_from_telegram(telegram: TelegramChats, user_id: int = FAN) -> str:
    reply = only_text(await telegram.say(user_id, "/link"))
    return reply.split("Your code: ")[1].split()[0]


async def link_on_discord(discord_bot: DiscordAdapter, code: str, user_id: int = DISCORD_FAN) -> str:
    return await slash(discord_bot, "link", an_interaction(discord_bot, user_id), code=code)


async def pay_for(webhook: WebhookSender, events: StripeEvents, app: App, identity: str, customer: str) -> None:
    sub = events.subscription(
        sub_id=f"sub_{customer}", customer=customer, member=identity, price_id="price_demo_fan_month", unit_amount=500
    )
    await webhook.send(events.event("customer.subscription.created", sub))
    await app.worker.drain()


async def test_a_code_from_telegram_redeemed_on_discord_makes_one_member(
    telegram: TelegramChats, discord_bot: DiscordAdapter, app: App
) -> None:
    code = await a_code_from_telegram(telegram)

    text = await link_on_discord(discord_bot, code)

    assert text.startswith("**Accounts linked**\nDone: your Telegram and Discord accounts are now one membership.")
    async with app.db.read() as conn:
        member_id = await find_member(conn, TELEGRAM)
        assert await find_member(conn, DISCORD) == member_id
        assert await identities_of(conn, member_id) == [DISCORD, TELEGRAM]


async def test_linking_gives_the_new_account_the_access_the_membership_already_pays_for(
    telegram: TelegramChats,
    discord_bot: DiscordAdapter,
    app: App,
    webhook: WebhookSender,
    events: StripeEvents,
) -> None:
    await pay_for(webhook, events, app, TELEGRAM, "cus_tg")
    code = await a_code_from_telegram(telegram)

    await link_on_discord(discord_bot, code)

    access = (await outbox_rows(app, "access"))[-1]["payload"]
    assert access["grant"] == {"discord_role_ids": [FAN_ROLE], "telegram_chat_ids": []}
    assert access["identities"] == [DISCORD]
    me = await slash(discord_bot, "me", an_interaction(discord_bot, DISCORD_FAN))
    assert "Tier: Fan\nStatus: active, renews on" in me


async def test_two_members_with_data_merge_into_the_older_one(
    telegram: TelegramChats,
    discord_bot: DiscordAdapter,
    app: App,
    webhook: WebhookSender,
    events: StripeEvents,
    clock: ManualClock,
) -> None:
    # The Discord account paid first (older member); the Telegram account has a trial of its own later.
    await pay_for(webhook, events, app, DISCORD, "cus_dc")
    trial = events.subscription(
        sub_id="sub_tg",
        customer="cus_tg",
        member=TELEGRAM,
        price_id="price_demo_creator_month",
        unit_amount=2500,
        status="trialing",
        trial_end=1_790_900_000,
    )
    await webhook.send(events.event("customer.subscription.created", trial))
    await app.worker.drain()
    older = (await member_state(app, DISCORD))["member_id"]
    newer = (await member_state(app, TELEGRAM))["member_id"]
    code = await a_code_from_telegram(telegram)

    await link_on_discord(discord_bot, code)

    state = await member_state(app, TELEGRAM)
    assert state["member_id"] == older
    assert sorted(sub["id"] for sub in state["subscriptions"]) == ["sub_cus_dc", "sub_tg"]
    assert state["granted_tier"] == "creator"  # the better of the two tiers, as for anyone holding both
    async with app.db.read() as conn:
        assert await identities_of(conn, older) == [DISCORD, "stripe:cus_dc", "stripe:cus_tg", TELEGRAM]
        assert (
            await conn.scalar(
                sa.select(sa.func.count()).select_from(billing_events).where(billing_events.c.member_id == newer)
            )
            == 0
        )
        assert await conn.scalar(sa.select(members.c.trial_used_at).where(members.c.id == older)) is not None
        assert await conn.scalar(sa.select(members.c.granted_tier).where(members.c.id == newer)) is None
        assert list(await conn.execute(sa.select(member_merges.c.from_member_id, member_merges.c.into_member_id))) == [
            (newer, older)
        ]
    # The Discord account moves from the Fan role to the Creator role; the Telegram account keeps its channel.
    last = (await outbox_rows(app, "access"))[-1]["payload"]
    assert (last["from_tier"], last["to_tier"]) == ("fan", "creator")
    assert last["grant"] == {"discord_role_ids": [1100000000000000002], "telegram_chat_ids": []}
    assert last["revoke"] == {"discord_role_ids": [FAN_ROLE], "telegram_chat_ids": []}


async def test_a_code_works_once(telegram: TelegramChats, discord_bot: DiscordAdapter) -> None:
    code = await a_code_from_telegram(telegram)
    await link_on_discord(discord_bot, code)

    again = await link_on_discord(discord_bot, code, user_id=DISCORD_FAN + 1)

    assert again == "That link code is unknown, used or expired; run /link on your other account for a new one."


async def test_a_code_expires_after_ten_minutes_and_then_changes_nothing(
    telegram: TelegramChats, discord_bot: DiscordAdapter, app: App, clock: ManualClock, stripe_api: StripeStandIn
) -> None:
    code = await a_code_from_telegram(telegram)
    clock.advance(timedelta(minutes=10, seconds=1))
    before = await snapshot(app, stripe_api)

    text = await link_on_discord(discord_bot, code)

    assert text.startswith("That link code is unknown, used or expired")
    assert await snapshot(app, stripe_api) == before


async def test_a_code_entered_on_the_platform_that_made_it_is_refused(
    telegram: TelegramChats, app: App, stripe_api: StripeStandIn
) -> None:
    code = await a_code_from_telegram(telegram)
    before = await snapshot(app, stripe_api)

    reply = only_text(await telegram.say(OTHER_FAN, f"/link {code.lower()}"))

    assert reply == "That code was made on Telegram; enter it on your other platform, not on Telegram."
    assert await snapshot(app, stripe_api) == before


async def test_a_new_code_replaces_the_previous_one(telegram: TelegramChats, discord_bot: DiscordAdapter) -> None:
    first = await a_code_from_telegram(telegram)
    second = await a_code_from_telegram(telegram)

    assert (await link_on_discord(discord_bot, first)).startswith("That link code is unknown")
    assert (await link_on_discord(discord_bot, second)).startswith("**Accounts linked**")


async def test_accounts_already_linked_are_told_so(telegram: TelegramChats, discord_bot: DiscordAdapter) -> None:
    await link_on_discord(discord_bot, await a_code_from_telegram(telegram))

    text = await link_on_discord(discord_bot, await a_code_from_telegram(telegram))

    assert text == "These two accounts are already linked: one membership serves both."


async def test_a_discord_account_linked_to_one_telegram_account_cannot_take_a_second(
    telegram: TelegramChats, discord_bot: DiscordAdapter, app: App, stripe_api: StripeStandIn
) -> None:
    await link_on_discord(discord_bot, await a_code_from_telegram(telegram, FAN))
    code = await a_code_from_telegram(telegram, OTHER_FAN)
    before = await snapshot(app, stripe_api)

    text = await link_on_discord(discord_bot, code)

    assert text == "One of these accounts is already linked to another Telegram account; nothing was changed."
    assert await snapshot(app, stripe_api) == before
    async with app.db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(subscriptions)) == 0


async def test_a_merged_account_is_moved_to_the_channel_of_the_better_tier(
    telegram: TelegramChats, discord_bot: DiscordAdapter, app: App, webhook: WebhookSender, events: StripeEvents
) -> None:
    brand = events.subscription(
        sub_id="sub_dc", customer="cus_dc", member=DISCORD, price_id="price_demo_brand_month", unit_amount=25000
    )
    await webhook.send(events.event("customer.subscription.created", brand))
    await pay_for(webhook, events, app, TELEGRAM, "cus_tg")  # Fan: the members' channel of Fan and Creator

    await link_on_discord(discord_bot, await a_code_from_telegram(telegram))

    moved = (await outbox_rows(app, "access"))[-1]["payload"]
    assert (moved["reason"], moved["identities"]) == ("linked", ["stripe:cus_tg", TELEGRAM])
    assert moved["grant"] == {"discord_role_ids": [], "telegram_chat_ids": [-1001000000002]}
    assert moved["revoke"] == {"discord_role_ids": [], "telegram_chat_ids": [-1001000000001]}
    assert (await member_state(app, TELEGRAM))["granted_tier"] == "brand"


async def test_rows_that_cannot_move_do_not_block_the_link(
    telegram: TelegramChats, discord_bot: DiscordAdapter, app: App, clock: ManualClock
) -> None:
    # Both accounts downloaded this month: quota usage is one row per member and month, so the newer stays put.
    code = await a_code_from_telegram(telegram)
    period = month_of(clock.now())
    async with app.db.write() as conn:
        telegram_member = await find_member(conn, TELEGRAM)
        discord_member = await ensure_member(conn, DISCORD, clock.now())
        for member_id, used in ((telegram_member, 2), (discord_member, 5)):
            await conn.execute(sa.insert(download_quota_usage).values(member_id=member_id, period=period, used=used))

    text = await link_on_discord(discord_bot, code)

    assert text.startswith("**Accounts linked**")
    async with app.db.read() as conn:
        assert await find_member(conn, DISCORD) == telegram_member
        usage = sorted(
            tuple(row)
            for row in await conn.execute(sa.select(download_quota_usage.c.member_id, download_quota_usage.c.used))
        )
    assert usage == [(telegram_member, 2), (discord_member, 5)]
