"""/request and the creators' commands, typed into Telegram (the Bot API stand-in) and run on Discord."""

from __future__ import annotations

from bots.discord_adapter import DiscordAdapter
from bots.services import BotServices
from entitlements.requests import Brief
from storefront.app import App
from storefront.members import attach_identity
from storefront.standins.stripe_api import StripeStandIn
from tests.bots.conftest import ADMIN_DISCORD, ADMIN_TELEGRAM, DISCORD_FAN, an_interaction, only_text, slash
from tests.bots.pack_builders import a_document, an_attachment
from tests.requests.conftest import a_member, checkout_of, pay, request_notices

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
    delivered = only_text(await telegram.say(ADMIN_TELEGRAM, "/request_deliver 1 files are in /packs"))
    assert "delivered" in delivered and "no files attached" in delivered
    assert [n["payload"]["template"] for n in await request_notices(app)] == [
        "request_submitted",
        "request_accepted",
        "request_delivered",
    ]
    assert "Nothing waiting" in only_text(await telegram.say(ADMIN_TELEGRAM, "/requests"))


async def test_the_brief_takes_format_deadline_and_reference_after_bars(app: App, webhook, events, telegram):
    await a_member(app, webhook, events, f"telegram:{BRAND_FAN}")
    answer = only_text(
        await telegram.say(BRAND_FAN, "/request the fox print in blue | format: SVG | by: 12 Dec | mood: calm")
    )
    assert "Brief: the fox print in blue | mood: calm" in answer
    assert "Format: SVG" in answer and "Wished by: 12 Dec" in answer
    [opened] = await app.requests.mine(f"telegram:{BRAND_FAN}")
    assert (opened.brief.format, opened.brief.deadline_wish) == ("SVG", "12 Dec")

    refused = only_text(await telegram.say(BRAND_FAN, "/request another | ref: the blue one"))
    assert refused.startswith("Ref: takes a file number from /packs")
    missing = only_text(await telegram.say(BRAND_FAN, "/request another | ref: 999"))
    assert "no file 999" in missing
    assert len(await app.requests.mine(f"telegram:{BRAND_FAN}")) == 1


async def test_request_alone_explains_the_brief(telegram):
    answer = only_text(await telegram.say(BRAND_FAN, "/request"))
    assert "format: PNG 4000px | by: 12 Dec | ref: 12" in answer and "caption /request" in answer


async def test_a_reference_file_sent_with_the_request_is_stored_and_named(
    app: App, webhook, events, telegram, telegram_api
):
    await a_member(app, webhook, events, f"telegram:{BRAND_FAN}")
    update = a_document(telegram_api, BRAND_FAN, "/request the fox, but in this palette", "palette.png", b"P" * 900)
    await telegram.handle(update)
    answer = telegram_api.sent_messages(BRAND_FAN)[-1]["text"]
    assert "Request #1 sent" in answer and "Reference: file " in answer
    [opened] = await app.requests.mine(f"telegram:{BRAND_FAN}")
    assert opened.brief.reference_asset_id is not None
    assert f"ref file {opened.brief.reference_asset_id}" in only_text(await telegram.say(ADMIN_TELEGRAM, "/requests"))


async def test_over_quota_on_telegram_offers_a_pay_button_and_the_same_link_twice(
    app: App, webhook, events, telegram, stripe_api: StripeStandIn
):
    await a_member(app, webhook, events, f"telegram:{BRAND_FAN}")
    await telegram.say(BRAND_FAN, "/request one")
    await telegram.say(BRAND_FAN, "/request two")

    [offer] = await telegram.say(BRAND_FAN, "/request three, paid")
    assert "quota resets on 01 Oct 2026" in offer["text"] and "pay $75.00 for one extra request" in offer["text"]
    [[button]] = offer["reply_markup"]["inline_keyboard"]
    assert button["text"] == "Pay on Stripe" and button["url"] == checkout_of(stripe_api, 3)["url"]
    [again] = await telegram.say(BRAND_FAN, "/request three, paid (again)")
    assert again["reply_markup"]["inline_keyboard"][0][0]["url"] == button["url"]
    assert "0 open" not in only_text(await telegram.say(ADMIN_TELEGRAM, "/requests"))
    assert "#3" not in only_text(await telegram.say(ADMIN_TELEGRAM, "/requests"))


async def test_declining_a_paid_extra_reminds_the_creator_to_refund(
    app: App, webhook, events, telegram, stripe_api: StripeStandIn
):
    await a_member(app, webhook, events, f"telegram:{BRAND_FAN}")
    for what in ("one", "two", "three, paid"):
        await telegram.say(BRAND_FAN, f"/request {what}")
    await pay(app, webhook, events, stripe_api, 3)
    answer = only_text(await telegram.say(ADMIN_TELEGRAM, "/request_decline 3 not something we can make"))
    assert "paid extra request: refund its payment in Stripe" in answer


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


async def test_a_creator_delivers_a_file_on_telegram_and_the_member_gets_a_download_button(
    app: App, webhook, events, telegram, telegram_api
):
    await a_member(app, webhook, events, f"telegram:{BRAND_FAN}")
    await telegram.say(BRAND_FAN, "/request a blue fox")
    await telegram.say(ADMIN_TELEGRAM, "/request_accept 1")

    await telegram.handle(
        a_document(telegram_api, ADMIN_TELEGRAM, "/request_deliver 1 Here it is!", "fox-blue.png", b"F" * 2048)
    )
    answer = telegram_api.sent_messages(ADMIN_TELEGRAM)[-1]["text"]
    assert "Request #1 delivered" in answer and "1 file to download" in answer
    delivered = (await request_notices(app))[-1]["payload"]
    assert [b["label"] for b in delivered["buttons"]] == ["Download fox-blue.png"]
    assert "/dl/" in delivered["buttons"][0]["url"]

    again = only_text(await telegram.say(ADMIN_TELEGRAM, "/request_deliver 1 once more"))
    assert "is delivered; it cannot become delivered now" in again


async def test_a_creator_delivers_several_files_on_discord(app: App, webhook, events, discord_bot: DiscordAdapter):
    await a_member(app, webhook, events, f"telegram:{BRAND_FAN}")
    await app.requests.submit(f"telegram:{BRAND_FAN}", Brief("fox"))
    creator = an_interaction(discord_bot, ADMIN_DISCORD)
    await slash(discord_bot, "request_accept", creator, request_id=1)

    files = {"file": an_attachment("fox-a.png", b"a" * 900), "file2": an_attachment("fox-b.png", b"b" * 900)}
    answer = await slash(
        discord_bot, "request_deliver", an_interaction(discord_bot, ADMIN_DISCORD), request_id=1, note="Two.", **files
    )
    assert "2 files to download" in answer
    assert len(await app.requests.delivered_files(1)) == 2
    schema = discord_bot.tree.get_command("request_deliver").to_dict(discord_bot.tree)
    assert [o["name"] for o in schema["options"]] == ["request_id", "note", "file", "file2", "file3", "file4", "file5"]
