"""429s are honoured from the database, a member's deliveries keep their order, and pacing keeps under limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bots.delivery import DiscordDeliverer
from storefront.app import App
from storefront.clock import ManualClock
from storefront.outbox_delivery import OutboxDeliveryWorker
from storefront.standins.discord_api import DiscordApiStandIn, DiscordLimits
from storefront.standins.telegram_bot_api import TelegramBotApiStandIn
from tests.delivery.conftest import FAN_ROLE, GUILD, a_discord_client, a_member, a_message, an_access_change, deliveries
from tests.delivery.telegram_client import TELEGRAM_TOKEN


@pytest.fixture
async def telegram(clock: ManualClock) -> AsyncIterator[TelegramBotApiStandIn]:
    """Telegram whose flood windows run on the test's clock, so a retry_after passes when the test says."""
    async with TelegramBotApiStandIn(TELEGRAM_TOKEN, clock=clock, timer=lambda: clock.now().timestamp()) as api:
        yield api


@pytest.fixture
def worker(make_worker) -> OutboxDeliveryWorker:
    return make_worker(per_chat_interval=0)  # the stand-in's windows run on the test clock, not on real time


async def test_telegram_429_is_retried_from_the_database_after_retry_after(
    app: App, telegram: TelegramBotApiStandIn, telegram_bot, worker: OutboxDeliveryWorker
):
    member = await a_member(app, "telegram:1001")
    await telegram_bot.send_message(1001, "A receipt sent a moment ago")  # uses up this chat's second
    await a_message(app, member, "Welcome to Fan!")

    assert await worker.drain() == 0
    [step] = await deliveries(app)
    assert (step["status"], step["attempts"]) == ("pending", 1)
    assert step["next_attempt_at"] == app.clock.now() + timedelta(seconds=1)
    assert await worker.drain() == 0  # not due yet: nothing is sent early

    app.clock.advance(timedelta(seconds=1))
    assert await worker.drain() == 1

    assert [call.outcome for call in telegram.calls_to("sendMessage")] == ["ok", "429", "ok"]
    assert [message["text"] for message in telegram.sent_messages(1001)][-1] == "Welcome to Fan!"


async def test_a_members_later_change_waits_for_the_earlier_one(
    app: App, telegram: TelegramBotApiStandIn, telegram_bot, discord_api: DiscordApiStandIn, worker
):
    member = await a_member(app, "telegram:1001", "discord:2002")
    discord_api.add_member(2002, roles=(FAN_ROLE,))
    await telegram_bot.send_message(1001, "A receipt sent a moment ago")
    await a_message(app, member, "Your payment failed.")  # will meet a 429 on Telegram
    await an_access_change(app, member, key="access:end", revoke_roles=[FAN_ROLE])

    await worker.drain()
    assert discord_api.roles_of(2002) == {FAN_ROLE}  # the revoke did not overtake the message
    assert discord_api.role_calls() == []

    app.clock.advance(timedelta(seconds=1))
    await worker.drain()
    assert discord_api.roles_of(2002) == set()


async def test_discord_429_is_honoured_and_the_role_is_granted_once(
    app: App, discord_api: DiscordApiStandIn, worker: OutboxDeliveryWorker
):
    discord_api.add_member(2002)
    member = await a_member(app, "discord:2002")
    await an_access_change(app, member, key="access:1", grant_roles=[FAN_ROLE])
    discord_api.rate_limit_next(1, retry_after=0.05)

    await worker.drain()

    assert [call.status for call in discord_api.role_calls("PUT")] == [429, 204]
    assert discord_api.roles_of(2002) == {FAN_ROLE}


async def test_discord_role_fan_out_stays_under_the_global_rate_limit(app: App, monkeypatch: pytest.MonkeyPatch):
    fans = range(3000, 3060)
    limits = DiscordLimits(global_per_second=50)
    async with DiscordApiStandIn(guild_id=GUILD, limits=limits) as api, a_discord_client(api, monkeypatch) as client:
        api.add_role(FAN_ROLE, position=1)
        for fan in fans:
            api.add_member(fan)
            member = await a_member(app, f"discord:{fan}")
            await an_access_change(app, member, key=f"access:{fan}", grant_roles=[FAN_ROLE])
        deliverer = DiscordDeliverer(client, GUILD, requests_per_second=50)

        await OutboxDeliveryWorker(app.db, app.clock, {"discord": deliverer}).drain()

    assert [call.status for call in api.calls].count(429) == 0
    assert api.max_rate_observed() <= 50
    assert all(api.roles_of(fan) == {FAN_ROLE} for fan in fans)
