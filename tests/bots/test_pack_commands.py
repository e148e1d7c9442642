"""`/packs` and `/license buy` for fans, `/pack add|schedule|list` for creators, on Telegram and Discord."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp
import pytest

from bots.discord_adapter import DiscordAdapter
from bots.rendering import DISCORD_TEXT_LIMIT
from storefront.app import App, Running
from storefront.demo.packs_story import stock_license_prices
from storefront.standins.stripe_api import StripeStandIn
from tests.bots.conftest import (
    ADMIN_DISCORD,
    ADMIN_TELEGRAM,
    DISCORD_FAN,
    FAN,
    OTHER_FAN,
    TelegramChats,
    an_interaction,
    only_text,
    slash,
)
from tests.bots.pack_builders import (
    MONTH,
    a_document,
    a_member,
    a_pack,
    an_attachment,
    everything,
    photo,
    sha256,
)

FAN_ID = f"telegram:{FAN}"


@pytest.fixture(autouse=True)
def license_prices(app: App, stripe_api: StripeStandIn) -> None:
    stock_license_prices(stripe_api, app.licenses)


def keyboard(message: dict) -> list[list[dict]]:
    return message.get("reply_markup", {}).get("inline_keyboard", [])


# --- /packs ----------------------------------------------------------------------------------------------------


async def test_packs_shows_a_members_files_each_with_a_download_button(telegram: TelegramChats, app: App) -> None:
    await a_member(app, FAN_ID, "fan")
    pack = await a_pack(app)

    [reply] = await telegram.say(FAN, "/packs")

    first, second, third = (asset.id for asset in pack.assets)
    assert reply["text"].startswith(
        "Your packs\n"
        "Fan member: your downloads carry the Personal use license; 20 downloads left this month.\n\n"
        "September 2026: September 2026 pack\n"
        f"  #{first} Photo 1 (2.0 KB)\n"
        f"  #{second} Photo 2 (2.0 KB)\n"
        f"  #{third} Photo 3 (2.0 KB)\n\n"
        "The links work until 05 Oct 2026; send /packs for fresh ones.\n"
        "More rights for a file? /license buy FILE KIND, KIND one of: commercial, ai_training, exclusive."
    )
    labels = [[button["text"] for button in row] for row in keyboard(reply)]
    assert labels == [[f"#{first} Photo 1", f"#{second} Photo 2"], [f"#{third} Photo 3"]]
    assert all(urlsplit(button["url"]).path.startswith("/dl/") for row in keyboard(reply) for button in row)


async def test_a_packs_button_downloads_the_exact_file(telegram: TelegramChats, app: App, server: Running) -> None:
    await a_member(app, FAN_ID, "fan")
    await a_pack(app, files=2)
    [reply] = await telegram.say(FAN, "/packs")

    link = keyboard(reply)[0][1]["url"]  # links carry the public address; the test server has its own port
    async with aiohttp.ClientSession() as http, http.get(server.url + urlsplit(link).path) as response:
        body = await response.read()

    assert response.status == 200
    assert sha256(body) == sha256(photo(2))


async def test_packs_pages_when_the_files_do_not_fit_one_message(
    telegram: TelegramChats, app: App, discord_bot: DiscordAdapter
) -> None:
    await a_member(app, FAN_ID, "creator")
    await a_pack(app, files=11)

    [first] = await telegram.say(FAN, "/packs")
    [second] = await telegram.press(FAN, first, "Next")

    assert first["text"].startswith("Your packs (page 1 of 2)\nCreator member")
    assert [len(row) for row in keyboard(first)] == [2, 2, 2, 2, 1]
    assert keyboard(first)[-1] == [{"text": "Next", "callback_data": "sf:packs 2"}]
    assert "Photo 9" in second["text"] and "Photo 8" not in second["text"]
    assert [button["text"] for button in keyboard(second)[-1]] == ["Previous"]
    # The same page on Discord: within 5 rows of at most 5 buttons, and 2,000 characters.
    await a_member(app, f"discord:{DISCORD_FAN}", "creator")
    interaction = an_interaction(discord_bot, DISCORD_FAN)
    text = await slash(discord_bot, "packs", interaction)
    view = interaction.followup.send.await_args.kwargs["view"]
    rows = [[item for item in view.children if item.row == row] for row in range(5)]
    assert [len(row) for row in rows] == [2, 2, 2, 2, 1]
    assert all(item.url for row in rows[:4] for item in row)
    assert len(text) <= DISCORD_TEXT_LIMIT


async def test_packs_without_a_membership_says_how_to_get_one(telegram: TelegramChats, app: App) -> None:
    await a_pack(app)

    reply = only_text(await telegram.say(FAN, "/packs"))

    assert reply == "Packs come with a membership that includes downloads: see /tiers, then /subscribe."


async def test_a_page_past_the_last_is_one_line(telegram: TelegramChats, app: App) -> None:
    await a_member(app, FAN_ID, "fan")
    await a_pack(app)

    assert only_text(await telegram.say(FAN, "/packs 3")) == "There is no page 3; your files fill 1 page."


# --- /license buy ----------------------------------------------------------------------------------------------


async def test_license_buy_answers_with_a_stripe_checkout_for_that_file(
    telegram: TelegramChats, app: App, stripe_api: StripeStandIn
) -> None:
    asset = (await a_pack(app)).assets[0]

    [reply] = await telegram.say(FAN, f"/license buy {asset.id} commercial")

    [session] = stripe_api.created_checkout_sessions()
    assert session["mode"] == "payment"
    assert session["metadata"]["kind"] == "license"
    assert session["metadata"]["asset"] == str(asset.id)
    assert session["client_reference_id"] == FAN_ID
    assert keyboard(reply) == [[{"text": "Pay on Stripe", "url": session["url"]}]]
    assert reply["text"] == (
        f"Commercial use license for #{asset.id} Photo 1: $49.00\n"
        "One payment on Stripe; once it goes through the license is yours, and /packs lists the file with it.\n"
        "The payment page works until 21 Sep 2026 15:23 UTC."
    )


async def test_license_kinds_are_offered_as_choices_on_discord(discord_bot: DiscordAdapter) -> None:
    schema = discord_bot.tree.get_command("license").to_dict(discord_bot.tree)

    action, asset, kind = schema["options"]
    assert [c["value"] for c in action["choices"]] == ["buy"]
    assert (asset["name"], asset["type"], asset["min_value"], asset["required"]) == ("asset", 4, 1, True)
    assert [(c["name"], c["value"]) for c in kind["choices"]] == [
        ("Commercial use", "commercial"),
        ("AI training", "ai_training"),
        ("Exclusive", "exclusive"),
    ]
    assert schema["default_member_permissions"] is None


async def test_a_second_buyer_of_an_exclusive_license_is_told_it_is_taken(
    telegram: TelegramChats, app: App, stripe_api: StripeStandIn
) -> None:
    asset = (await a_pack(app)).assets[0]
    await telegram.say(OTHER_FAN, f"/license buy {asset.id} exclusive")
    before = await everything(app, stripe_api)

    reply = only_text(await telegram.say(FAN, f"/license buy {asset.id} exclusive"))

    assert reply == (
        f"Someone is buying the exclusive license for file {asset.id} right now; try again after 21 Sep 2026 15:23 UTC."
    )
    assert await everything(app, stripe_api) == before


async def test_license_buy_while_stripe_is_down_is_one_line(
    telegram: TelegramChats, app: App, stripe_api: StripeStandIn
) -> None:
    asset = (await a_pack(app)).assets[0]
    stripe_api.fail_next(20)

    reply = only_text(await telegram.say(FAN, f"/license buy {asset.id} commercial"))

    assert reply == "Stripe is not answering right now; please try again in a minute."


LICENSE_BAD_ARGUMENTS = [
    ("/license", "Missing buy. Usage: /license buy FILE KIND"),
    ("/license sell 1 commercial", "Expected buy, not 'sell'. Usage: /license buy FILE KIND"),
    ("/license buy", "Missing FILE. Usage: /license buy FILE KIND"),
    ("/license buy one commercial", "FILE must be a whole number. Usage: /license buy FILE KIND"),
    ("/license buy 1", "Missing KIND. Usage: /license buy FILE KIND"),
    ("/license buy 1 commercial now", "Too many arguments. Usage: /license buy FILE KIND"),
    (
        "/license buy 1 platinum",
        "Unknown license 'platinum'; choose one of: personal, commercial, ai_training, exclusive",
    ),
    ("/license buy 1 personal", "The Personal use license is not sold on its own."),
    ("/license buy 999 commercial", "There is no file 999; /packs shows the file numbers."),
]


@pytest.mark.parametrize(("text", "answer"), LICENSE_BAD_ARGUMENTS)
async def test_license_buy_with_bad_arguments_answers_one_line_and_changes_nothing(
    telegram: TelegramChats, app: App, stripe_api: StripeStandIn, text: str, answer: str
) -> None:
    await a_pack(app)
    before = await everything(app, stripe_api)

    reply = only_text(await telegram.say(FAN, text))

    assert reply == answer
    assert await everything(app, stripe_api) == before


# --- /pack (creators) ------------------------------------------------------------------------------------------


async def test_a_creator_adds_files_to_a_pack_by_sending_documents_captioned_pack_add(
    telegram: TelegramChats, app: App
) -> None:
    sunset, moon = photo(7, 4096), photo(8, 1024)

    first = await send(telegram, a_document(telegram.api, ADMIN_TELEGRAM, "/pack add 2026-12", "sunset.png", sunset))
    second = await send(telegram, a_document(telegram.api, ADMIN_TELEGRAM, "/pack add 2026-12", "moon.png", moon))

    assert first["text"].startswith("Pack 2026-12: December 2026 pack\nAdded: sunset.png.\n1 file in the pack;")
    assert second["text"] == (
        "Pack 2026-12: December 2026 pack\n"
        "Added: moon.png.\n"
        "2 files in the pack; goes out 01 Dec 2026 15:00 UTC to every member whose tier includes packs.\n"
        "Change the time with /pack schedule 2026-12 WHEN.\n"
        "More files: send each as a document with the caption /pack add 2026-12."
    )
    summary = await app.packs.summary("2026-12")
    assert [(a.filename, a.sha256, a.content_type) for a in summary.assets] == [
        ("sunset.png", sha256(sunset), "image/png"),
        ("moon.png", sha256(moon), "image/png"),
    ]


async def send(telegram: TelegramChats, update: dict) -> dict:
    """Hand the bot an update; the one message it answered in that chat."""
    chat = update["message"]["chat"]["id"]
    before = len(telegram.api.sent_messages(chat))
    await telegram.handle(update)
    [reply] = telegram.api.sent_messages(chat)[before:]
    return reply


async def test_the_same_document_sent_twice_changes_nothing(telegram: TelegramChats, app: App) -> None:
    await send(telegram, a_document(telegram.api, ADMIN_TELEGRAM, "/pack add 2026-12", "sunset.png", photo(7)))
    before = await everything(app)

    again = await send(telegram, a_document(telegram.api, ADMIN_TELEGRAM, "/pack add 2026-12", "sunset.png", photo(7)))

    assert again["text"].startswith("Pack 2026-12: December 2026 pack\nThese files were already in the pack;")
    assert await everything(app) == before


async def test_a_photo_captioned_pack_add_is_not_taken_as_a_pack_file(telegram: TelegramChats, app: App) -> None:
    # Telegram recompresses photos; only documents keep the creator's exact bytes.
    update = a_document(telegram.api, ADMIN_TELEGRAM, "/pack add 2026-12", "sunset.png", photo(7))
    message = update["message"]
    document = message.pop("document")
    message["photo"] = [{"file_id": document["file_id"], "file_unique_id": "p1", "width": 800, "height": 600}]
    before = await everything(app)

    reply = await send(telegram, update)

    assert reply["text"] == (
        "Attach the files: send each one as a document (not a photo) with the caption /pack add 2026-12"
    )
    assert await everything(app) == before


async def test_a_creator_adds_a_pack_with_discord_attachments(discord_bot: DiscordAdapter, app: App) -> None:
    files = {"file": an_attachment("a.png", photo(1)), "file2": an_attachment("b.png", photo(2))}

    text = await slash(
        discord_bot, "pack", an_interaction(discord_bot, ADMIN_DISCORD), action="add", month="2026-12", **files
    )

    assert text.startswith("**Pack 2026-12: December 2026 pack**\nAdded: a.png, b.png.\n2 files in the pack;")
    summary = await app.packs.summary("2026-12")
    assert [a.sha256 for a in summary.assets] == [sha256(photo(1)), sha256(photo(2))]


def test_pack_on_discord_takes_an_action_a_month_a_time_and_up_to_five_files(discord_bot: DiscordAdapter) -> None:
    schema = discord_bot.tree.get_command("pack").to_dict(discord_bot.tree)

    options = {option["name"]: option for option in schema["options"]}
    assert list(options) == ["action", "month", "when", "file", "file2", "file3", "file4", "file5"]
    assert [c["value"] for c in options["action"]["choices"]] == ["add", "schedule", "list"]
    assert [options[name]["type"] for name in ("month", "when", "file")] == [3, 3, 11]
    assert not any(options[name]["required"] for name in options if name != "action")
    assert schema["default_member_permissions"] == 32  # Manage Server


async def test_a_file_too_big_for_chat_is_refused_before_it_is_downloaded(
    discord_bot: DiscordAdapter, app: App
) -> None:
    big = an_attachment("poster.tif", b"tiny", size=25 * 1024 * 1024)
    before = await everything(app)

    text = await slash(
        discord_bot, "pack", an_interaction(discord_bot, ADMIN_DISCORD), action="add", month="2026-12", file=big
    )

    assert text == (
        "poster.tif is 25.0 MB, more than chat bots can take (20.0 MB); "
        "add it on the server with: storefront pack add DIR --month 2026-12"
    )
    big.read.assert_not_awaited()
    assert await everything(app) == before


@pytest.mark.parametrize(
    "when", ["2026-12-01T09:00+01:00", "2026-12-01 09:00+01:00", "2026-12-01T09:00 Europe/Paris", "2026-12-01T08:00Z"]
)
async def test_pack_schedule_sets_the_delivery_time_given_with_its_zone(
    telegram: TelegramChats, app: App, when: str
) -> None:
    await a_pack(app, "2026-12")

    reply = only_text(await telegram.say(ADMIN_TELEGRAM, f"/pack schedule 2026-12 {when}"))

    assert reply == (
        "Pack 2026-12: December 2026 pack\nIt goes out 01 Dec 2026 08:00 UTC to every member whose tier includes packs."
    )
    assert (await app.packs.summary("2026-12")).deliver_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


async def test_pack_list_shows_each_pack_and_where_its_delivery_stands(telegram: TelegramChats, app: App) -> None:
    await a_member(app, FAN_ID, "fan")
    await a_pack(app, "2026-08", files=1)
    await app.packs.fan_out("2026-08")
    await a_pack(app, MONTH, files=2)
    await a_pack(app, "2026-10", files=3)

    reply = only_text(await telegram.say(ADMIN_TELEGRAM, "/pack list"))

    assert reply == (
        "Packs, newest first (3)\n"
        "2026-10 October 2026 pack: 3 files, goes out 01 Oct 2026 15:00 UTC\n"
        "2026-09 September 2026 pack: 2 files, due: goes out within a minute\n"
        "2026-08 August 2026 pack: 1 file, sent to 1 member on 21 Sep 2026"
    )


async def test_a_fan_cannot_add_a_pack_and_nothing_is_stored(telegram: TelegramChats, app: App) -> None:
    before = await everything(app)

    refused_add = await send(telegram, a_document(telegram.api, FAN, "/pack add 2026-12", "sunset.png", photo(7)))
    refused_list = only_text(await telegram.say(FAN, "/pack list"))

    assert refused_add["text"] == "Sorry, /pack is only for the team running this shop; nothing was changed."
    assert refused_list == "Sorry, /pack is only for the team running this shop; nothing was changed."
    assert await everything(app) == before


async def test_a_discord_member_without_manage_server_cannot_add_a_pack(discord_bot: DiscordAdapter, app: App) -> None:
    file = an_attachment("a.png", photo(1))
    before = await everything(app)

    text = await slash(
        discord_bot, "pack", an_interaction(discord_bot, DISCORD_FAN), action="add", month="2026-12", file=file
    )

    assert text == "Sorry, /pack is only for the team running this shop; nothing was changed."
    file.read.assert_not_awaited()
    assert await everything(app) == before


async def test_a_delivered_pack_can_no_longer_be_changed(telegram: TelegramChats, app: App) -> None:
    await a_pack(app, MONTH)
    await app.packs.fan_out(MONTH)
    before = await everything(app)

    added = (
        await send(telegram, a_document(telegram.api, ADMIN_TELEGRAM, f"/pack add {MONTH}", "late.png", photo(9)))
    )["text"]
    reply = only_text(await telegram.say(ADMIN_TELEGRAM, f"/pack schedule {MONTH} 2026-09-30T10:00Z"))

    refused = "The 2026-09 pack has already gone out to members; it can no longer be changed."
    assert added == refused and reply == refused
    assert (await everything(app))["assets"] == before["assets"]
    assert (await everything(app))["packs"] == before["packs"]


USAGE = "Usage: /pack add|schedule|list [MONTH] [WHEN...]"
PACK_BAD_ARGUMENTS = [
    ("/pack", f"Missing add|schedule|list. {USAGE}"),
    ("/pack remove 2026-12", f"Expected add or schedule or list, not 'remove'. {USAGE}"),
    ("/pack add", f"Missing MONTH. {USAGE}"),
    ("/pack add 2026-13", f"'2026-13' is not a month; write it as YYYY-MM, e.g. 2026-12. {USAGE}"),
    (
        "/pack add 2026-12",
        "Attach the files: send each one as a document (not a photo) with the caption /pack add 2026-12",
    ),
    ("/pack list 2026-12", f"/pack list takes nothing more. {USAGE}"),
    ("/pack schedule 2026-12", f"Missing WHEN. {USAGE}"),
    (
        "/pack schedule 2026-12 2026-12-01T09:00",
        f"WHEN needs a time zone, e.g. 2026-12-01T09:00Z for UTC or 2026-12-01T09:00+01:00. {USAGE}",
    ),
    (
        "/pack schedule 2026-12 tomorrow",
        f"'tomorrow' is not a date and time; write e.g. 2026-12-01T09:00+01:00. {USAGE}",
    ),
    (
        "/pack schedule 2026-12 2026-12-01T09:00 Mars/Olympus",
        f"Unknown time zone 'Mars/Olympus'; use a name like Europe/Paris or an offset like +01:00. {USAGE}",
    ),
    ("/pack schedule 2027-01 2027-01-01T09:00Z", "There is no pack for 2027-01 yet; add one with /pack add."),
]


@pytest.mark.parametrize(("text", "answer"), PACK_BAD_ARGUMENTS)
async def test_pack_with_bad_arguments_answers_one_line_and_changes_nothing(
    telegram: TelegramChats, app: App, text: str, answer: str
) -> None:
    await a_pack(app, "2026-12")
    before = await everything(app)

    reply = only_text(await telegram.say(ADMIN_TELEGRAM, text))

    assert reply == answer
    assert await everything(app) == before
