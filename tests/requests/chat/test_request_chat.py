"""/request and the creators' commands, typed into Telegram (the Bot API stand-in) and run on Discord."""

from __future__ import annotations

from bots.services import BotServices
from storefront.app import App
from storefront.members import attach_identity
from tests.bots.conftest import ADMIN_TELEGRAM, DISCORD_FAN, an_interaction, only_text, slash
from tests.requests.conftest import a_member, request_notices

BRAND_FAN = 5001


async def test_brand_member_asks_on_telegram_and_the_creator_works_the_queue(
    app: App, webhook, events, telegram, services: BotServices
):
    await a_member(app, webhook, events, f"telegram:{BRAND_FAN}")

    answer = only_text(await telegram.say(BRAND_FAN, "/request the fox print in blue, 4000px PNG, by Friday"))
    assert "Request #1 sent" in answer and "1 of 2" in answer

    queue = only_text(await telegram.say(ADMIN_TELEGRAM, "/requests"))
    assert "#1 the fox print in blue" in queue and "1 open" in queue

    assert "accepted" in only_text(await telegram.say(ADMIN_TELEGRAM, "/request_accept 1"))
    assert "delivered" in only_text(await telegram.say(ADMIN_TELEGRAM, "/request_deliver 1 files are in /packs"))
    assert [n["payload"]["template"] for n in await request_notices(app)] == [
        "request_submitted",
        "request_accepted",
        "request_delivered",
    ]
    assert "Nothing waiting" in only_text(await telegram.say(ADMIN_TELEGRAM, "/requests"))


async def test_fans_cannot_work_the_queue(app: App, webhook, events, telegram):
    await a_member(app, webhook, events, f"telegram:{BRAND_FAN}")
    await telegram.say(BRAND_FAN, "/request a blue fox")
    answer = only_text(await telegram.say(BRAND_FAN, "/request_decline 1 no thanks"))
    assert "only for the team" in answer
    assert len(await request_notices(app)) == 1


async def test_quota_used_on_telegram_is_used_on_discord(app: App, webhook, events, telegram, discord_bot, clock):
    member_id = await a_member(app, webhook, events, f"telegram:{BRAND_FAN}")
    async with app.db.write() as conn:
        await attach_identity(conn, member_id, f"discord:{DISCORD_FAN}", clock.now())
    await telegram.say(BRAND_FAN, "/request one")
    await telegram.say(BRAND_FAN, "/request two")

    answer = await slash(discord_bot, "request", an_interaction(discord_bot, DISCORD_FAN), what="three")
    assert "used your 2 custom requests" in answer and "resets on 01 " in answer


async def test_fan_tier_is_told_brand_offers_requests_on_telegram(app: App, webhook, events, telegram):
    await a_member(app, webhook, events, "telegram:5002", tier="fan")
    answer = only_text(await telegram.say(5002, "/request a blue fox"))
    assert "Fan membership" in answer and "Brand tier" in answer
