"""People who cannot be reached and setups only an admin can fix: recorded once, never retried in a loop."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storefront.app import App
from storefront.outbox_delivery import OutboxDeliveryWorker, undelivered_steps
from storefront.standins.discord_api import DiscordApiStandIn
from storefront.standins.telegram_bot_api import TelegramBotApiStandIn
from tests.delivery.conftest import (
    ADMIN_TELEGRAM,
    FAN_CHAT,
    FAN_ROLE,
    a_member,
    a_message,
    an_access_change,
    deliveries,
    outbox_statuses,
)


async def a_day_later(app: App, worker: OutboxDeliveryWorker) -> int:
    app.clock.advance(timedelta(days=1))
    return await worker.drain()


async def test_a_fan_who_blocked_the_bot_is_recorded_and_not_messaged_again(
    app: App, telegram: TelegramBotApiStandIn, worker: OutboxDeliveryWorker
):
    member = await a_member(app, "telegram:1001")
    telegram.block_user(1001)
    await a_message(app, member, "Your trial ends on Friday.")

    assert await worker.drain() == 1
    assert await a_day_later(app, worker) == 0

    [step] = await deliveries(app)
    assert (step["status"], step["attempts"]) == ("unreachable", 1)
    assert "blocked by the user" in step["last_error"]
    assert telegram.count("sendMessage") == 1
    assert list((await outbox_statuses(app)).values()) == ["delivered"]
    [listed] = await undelivered_steps(app.db)  # what `storefront outbox problems` shows an admin
    assert (listed["target"], listed["status"]) == ("telegram:1001", "unreachable")


async def test_a_discord_fan_with_closed_dms_is_recorded_and_not_messaged_again(
    app: App, discord_api: DiscordApiStandIn, worker: OutboxDeliveryWorker
):
    member = await a_member(app, "discord:2002")
    discord_api.close_dms(2002)
    await a_message(app, member, "Your trial ends on Friday.")

    await worker.drain()
    await a_day_later(app, worker)

    [step] = await deliveries(app)
    assert step["status"] == "unreachable"
    assert "Cannot send messages to this user" in step["last_error"]
    assert [call.code for call in discord_api.calls if call.route.endswith("/messages")] == [50007]


async def test_a_payer_with_no_chat_identity_yet_is_recorded_and_not_retried(
    app: App, telegram: TelegramBotApiStandIn, discord_api: DiscordApiStandIn, worker: OutboxDeliveryWorker
):
    member = await a_member(app, "stripe:cus_paidbeforetalking")
    await an_access_change(app, member, key="access:first", grant_roles=[FAN_ROLE], grant_chats=[FAN_CHAT])

    assert await worker.drain() == 1
    assert await a_day_later(app, worker) == 0

    assert await outbox_statuses(app) == {"access:first": "failed"}
    assert await deliveries(app) == []
    assert [call.method for call in telegram.calls] == ["getMe"]  # logging in, nothing else
    assert discord_api.role_calls() == [] and discord_api.sent_messages() == []


async def test_missing_manage_roles_is_reported_to_admins_once_and_retried_after_the_fix(
    app: App, telegram: TelegramBotApiStandIn, discord_api: DiscordApiStandIn, worker: OutboxDeliveryWorker
):
    discord_api.manage_roles = False
    for fan in (2002, 2003, 2004):
        discord_api.add_member(fan)
        member = await a_member(app, f"discord:{fan}")
        await an_access_change(app, member, key=f"access:{fan}", grant_roles=[FAN_ROLE])

    await worker.drain()  # the three grants fail, the alert is queued
    await worker.drain()  # the alert goes out
    await a_day_later(app, worker)

    assert [step["status"] for step in await deliveries(app, step=f"grant:{FAN_ROLE}")] == ["needs_admin"] * 3
    assert len(discord_api.role_calls("PUT")) == 3
    [alert] = telegram.sent_messages(ADMIN_TELEGRAM)
    assert "Manage Roles" in alert["text"] and "storefront outbox retry" in alert["text"]

    discord_api.manage_roles = True
    assert await worker.retry_held() == 3
    await worker.drain()

    assert all(discord_api.roles_of(fan) == {FAN_ROLE} for fan in (2002, 2003, 2004))
    assert set((await outbox_statuses(app)).values()) == {"delivered"}
    assert len(telegram.sent_messages(ADMIN_TELEGRAM)) == 1


async def test_a_role_above_the_bots_own_is_reported_like_a_missing_permission(
    app: App, telegram: TelegramBotApiStandIn, discord_api: DiscordApiStandIn, worker: OutboxDeliveryWorker
):
    discord_api.bot_top_position = 1  # the bot's highest role sits at the Fan role's position
    discord_api.add_member(2002)
    member = await a_member(app, "discord:2002")
    await an_access_change(app, member, key="access:1", grant_roles=[FAN_ROLE])

    await worker.drain()
    await worker.drain()

    [step] = await deliveries(app, target="discord:2002")
    assert (step["status"], "50013" in step["last_error"]) == ("needs_admin", True)
    assert len(telegram.sent_messages(ADMIN_TELEGRAM)) == 1


async def test_a_members_chat_the_bot_cannot_manage_is_reported_once(
    app: App, telegram: TelegramBotApiStandIn, worker: OutboxDeliveryWorker
):
    telegram.forbid_chat(FAN_CHAT)
    for fan in (1001, 1002):
        member = await a_member(app, f"telegram:{fan}")
        await an_access_change(app, member, key=f"access:{fan}", grant_chats=[FAN_CHAT])

    await worker.drain()
    await worker.drain()

    assert [step["status"] for step in await deliveries(app, step=f"grant:{FAN_CHAT}")] == ["needs_admin"] * 2
    [alert] = telegram.sent_messages(ADMIN_TELEGRAM)
    assert str(FAN_CHAT) in alert["text"]
    assert telegram.sent_messages(1001) == telegram.sent_messages(1002) == []


async def test_a_fan_who_left_the_discord_server_is_skipped_without_alarming_anyone(
    app: App, telegram: TelegramBotApiStandIn, discord_api: DiscordApiStandIn, worker: OutboxDeliveryWorker
):
    member = await a_member(app, "discord:2002")
    await an_access_change(app, member, key="access:1", grant_roles=[FAN_ROLE])

    await worker.drain()
    await worker.drain()

    [step] = await deliveries(app)
    assert step["status"] == "skipped"
    assert await outbox_statuses(app) == {"access:1": "delivered"}
    assert telegram.sent_messages() == []


async def test_a_kick_also_revokes_the_invite_link_the_fan_never_used(
    app: App, telegram: TelegramBotApiStandIn, worker: OutboxDeliveryWorker
):
    member = await a_member(app, "telegram:1001")
    await an_access_change(app, member, key="access:1", grant_chats=[FAN_CHAT])
    await worker.drain()
    [invite] = telegram.sent_messages(1001)
    [[join]] = invite["reply_markup"]["inline_keyboard"]

    await an_access_change(app, member, key="access:2", revoke_chats=[FAN_CHAT])
    await worker.drain()

    assert telegram.join_by_link(1001, join["url"]) == "revoked"
    assert telegram.count("banChatMember", outcome="ok") == telegram.count("unbanChatMember", outcome="ok") == 1


@pytest.mark.parametrize("portal", ["unavailable", "failing"])
async def test_a_message_goes_out_without_its_portal_button_when_no_portal_link_can_be_made(
    app: App, telegram: TelegramBotApiStandIn, make_worker, portal: str
):
    async def no_link(member_id: int) -> str | None:
        if portal == "failing":
            raise RuntimeError("Stripe is down")
        return None

    member = await a_member(app, "telegram:1001")
    await a_message(app, member, "Your payment failed.", buttons=[{"label": "Update card", "action": "portal"}])

    await make_worker(portal_links=no_link).drain()

    [message] = telegram.sent_messages(1001)
    assert message["text"] == "Your payment failed." and "reply_markup" not in message


async def test_a_held_grant_is_not_replayed_over_a_newer_revoke(
    app: App, discord_api: DiscordApiStandIn, worker: OutboxDeliveryWorker
):
    discord_api.manage_roles = False
    discord_api.add_member(2002)
    member = await a_member(app, "discord:2002")
    await an_access_change(app, member, key="access:1", grant_roles=[FAN_ROLE])
    await worker.drain()
    discord_api.manage_roles = True
    await an_access_change(app, member, key="access:2", revoke_roles=[FAN_ROLE])
    await worker.drain()

    assert await worker.retry_held() == 0
    await worker.drain()

    assert discord_api.roles_of(2002) == set()
    assert [call.method for call in discord_api.role_calls(status=204)] == ["DELETE"]
