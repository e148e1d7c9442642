"""From a signed Stripe webhook to a role, an invite link, a kick and direct messages: each exactly once."""

from __future__ import annotations

from datetime import timedelta

from storefront.app import App
from storefront.demo.stripe_events import StripeEvents
from storefront.outbox_delivery import OutboxDeliveryWorker
from storefront.standins.discord_api import DiscordApiStandIn
from storefront.standins.telegram_bot_api import TelegramBotApiStandIn
from tests.delivery.conftest import CREATOR_ROLE, FAN_CHAT, FAN_ROLE, a_member, outbox_statuses
from tests.helpers import WebhookSender
from tests.lifecycle import full_lifecycle

FAN_TG, FAN_DISCORD = 1001, 2002


async def deliver(app: App, worker: OutboxDeliveryWorker, webhook: WebhookSender, events: list[dict]) -> None:
    for event in events:
        assert (await webhook.send(event)).status == 200
        await app.worker.drain()
        await worker.drain()


def what_platforms_saw(telegram: TelegramBotApiStandIn, discord_api: DiscordApiStandIn) -> tuple:
    return (
        len(telegram.calls),
        [(call.method, call.path, call.status) for call in discord_api.calls if call.route != "/users/@me"],
        len(discord_api.sent_messages()),
    )


async def test_new_subscription_grants_the_role_and_sends_one_invite_in_the_welcome_message(
    app: App,
    webhook: WebhookSender,
    events: StripeEvents,
    telegram: TelegramBotApiStandIn,
    discord_api: DiscordApiStandIn,
    worker: OutboxDeliveryWorker,
):
    await a_member(app, f"telegram:{FAN_TG}", f"discord:{FAN_DISCORD}")
    discord_api.add_member(FAN_DISCORD)
    until_active = [step.event for step in full_lifecycle(events)[:4]]

    await deliver(app, worker, webhook, until_active)

    assert discord_api.roles_of(FAN_DISCORD) == {FAN_ROLE}
    [role_add] = discord_api.role_calls("PUT")
    assert "fan" in role_add.reason
    [invite] = telegram.calls_to("createChatInviteLink", outcome="ok")
    assert invite.params["chat_id"] == FAN_CHAT
    assert invite.params["member_limit"] == 1 and not invite.params.get("creates_join_request")
    assert 0 < invite.params["expire_date"] - app.clock.now().timestamp() <= timedelta(days=1).total_seconds()
    [welcome] = telegram.sent_messages(FAN_TG)
    assert welcome["text"].startswith("Welcome to Fan!")
    [[join]] = welcome["reply_markup"]["inline_keyboard"]
    assert join == {"text": "Join the members' chat", "url": invite.result["invite_link"]}
    [discord_welcome] = discord_api.dms_to(FAN_DISCORD)
    assert discord_welcome["content"].startswith("Welcome to Fan!")
    # The link admits the member once and nobody after them.
    assert telegram.join_by_link(FAN_TG, join["url"]) == "joined"
    assert telegram.join_by_link(FAN_TG + 1, join["url"]) == "full"

    seen = what_platforms_saw(telegram, discord_api)
    for event in until_active:
        assert (await webhook.send(event)).body["duplicate"] is True
    await app.worker.drain()
    assert await worker.drain() == 0
    assert what_platforms_saw(telegram, discord_api) == seen


async def test_ended_subscription_removes_the_role_and_kicks_once_and_says_goodbye(
    app: App,
    webhook: WebhookSender,
    events: StripeEvents,
    telegram: TelegramBotApiStandIn,
    discord_api: DiscordApiStandIn,
    worker: OutboxDeliveryWorker,
):
    await a_member(app, f"telegram:{FAN_TG}", f"discord:{FAN_DISCORD}")
    discord_api.add_member(FAN_DISCORD)
    lifecycle = [step.event for step in full_lifecycle(events)]

    await deliver(app, worker, webhook, lifecycle)

    assert discord_api.roles_of(FAN_DISCORD) == set()
    role_changes = [(call.method, int(call.path.rsplit("/", 1)[1])) for call in discord_api.role_calls(status=204)]
    # Fan, then the upgrade to Creator swaps the role, then the end takes it away.
    assert role_changes == [("PUT", FAN_ROLE), ("PUT", CREATOR_ROLE), ("DELETE", FAN_ROLE), ("DELETE", CREATOR_ROLE)]
    [ban] = telegram.calls_to("banChatMember", outcome="ok")
    [unban] = telegram.calls_to("unbanChatMember", outcome="ok")
    assert (ban.params["chat_id"], ban.params["user_id"]) == (FAN_CHAT, FAN_TG)
    assert unban.params["only_if_banned"] is True
    assert telegram.member_status(FAN_CHAT, FAN_TG) == "left"  # kicked, and free to come back on a new link
    texts = [message["text"] for message in telegram.sent_messages(FAN_TG)]
    assert [text.split(" ")[0:2] for text in texts] == [["Welcome", "to"], ["Your", "last"], ["Your", "Creator"]]
    payment_failed = telegram.sent_messages(FAN_TG)[1]
    [[portal]] = payment_failed["reply_markup"]["inline_keyboard"]
    assert portal["url"].startswith("https://billing.stripe.test/p/session_for_")
    assert [dm["content"].split(" ")[0] for dm in discord_api.dms_to(FAN_DISCORD)] == ["Welcome", "Your", "Your"]
    assert set((await outbox_statuses(app)).values()) == {"delivered"}

    seen = what_platforms_saw(telegram, discord_api)
    for event in lifecycle:
        assert (await webhook.send(event)).body["duplicate"] is True
    await app.worker.drain()
    assert await worker.drain() == 0
    assert what_platforms_saw(telegram, discord_api) == seen
