"""The Telegram Bot API stand-in, driven by the real python-telegram-bot over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dtm
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, EndPointNotFound, Forbidden, InvalidToken, RetryAfter
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler

from storefront.standins.telegram_bot_api import RateLimits, TelegramBotApiStandIn

TOKEN = "7654321:AAH-test-token-for-the-stand-in"
BOT_ID = 7654321
FAN = 4242
GROUP = -1001234567890


@pytest.fixture
async def telegram() -> AsyncIterator[TelegramBotApiStandIn]:
    async with TelegramBotApiStandIn(TOKEN) as api:
        yield api


def a_bot(api: TelegramBotApiStandIn, token: str = TOKEN) -> Bot:
    return Bot(token, base_url=f"{api.base_url}/bot", base_file_url=f"{api.base_url}/file/bot")


def an_app(api: TelegramBotApiStandIn, rate_limiter: AIORateLimiter | None = None) -> Application:
    builder = ApplicationBuilder().token(TOKEN).base_url(f"{api.base_url}/bot")
    builder = builder.base_file_url(f"{api.base_url}/file/bot")
    if rate_limiter is not None:
        builder = builder.rate_limiter(rate_limiter)
    return builder.build()


def seconds(retry_after: int | float | dtm.timedelta) -> float:
    return retry_after.total_seconds() if isinstance(retry_after, dtm.timedelta) else float(retry_after)


# --- the HTTP path and message shapes ------------------------------------------------------------------


async def test_get_me_reports_the_bot_from_the_token(telegram: TelegramBotApiStandIn) -> None:
    async with a_bot(telegram) as bot:
        me = await bot.get_me()

    assert (me.id, me.is_bot, me.username) == (BOT_ID, True, "storefront_test_bot")


async def test_send_message_round_trips_with_its_inline_keyboard(telegram: TelegramBotApiStandIn) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Buy Fan tier", callback_data="buy:fan")]])

    async with a_bot(telegram) as bot:
        message = await bot.send_message(FAN, "Welcome to the shop", reply_markup=keyboard)

    assert (message.chat.id, message.chat.type, message.from_user.id) == (FAN, "private", BOT_ID)
    assert message.text == "Welcome to the shop"
    assert message.reply_markup == keyboard
    [sent] = telegram.sent_messages(FAN)
    assert sent["reply_markup"] == {"inline_keyboard": [[{"text": "Buy Fan tier", "callback_data": "buy:fan"}]]}
    assert telegram.calls_to("sendMessage")[0].params["chat_id"] == FAN


async def test_html_parse_mode_becomes_plain_text_and_entities(telegram: TelegramBotApiStandIn) -> None:
    async with a_bot(telegram) as bot:
        message = await bot.send_message(
            FAN, "<b>Drop</b> at <a href='https://x.test/d'>the shop</a> &amp; more", parse_mode="HTML"
        )

    assert message.text == "Drop at the shop & more"
    assert [(e.type, e.offset, e.length, e.url) for e in message.entities] == [
        ("bold", 0, 4, None),
        ("text_link", 8, 8, "https://x.test/d"),
    ]


# PTB drops the "Bad Request: " prefix and capitalizes the rest (lower-casing it) in error messages.
async def test_html_with_an_unsupported_tag_is_refused_like_telegram(telegram: TelegramBotApiStandIn) -> None:
    async with a_bot(telegram) as bot:
        with pytest.raises(BadRequest, match='unsupported start tag "div" at byte offset 0'):
            await bot.send_message(FAN, "<div>hi</div>", parse_mode="HTML")

    assert telegram.sent_messages() == []


async def test_json_bodies_are_read_like_form_bodies(telegram: TelegramBotApiStandIn) -> None:
    body = {
        "chat_id": GROUP,
        "text": "hi",
        "reply_markup": {"inline_keyboard": [[{"text": "Go", "url": "https://x.test"}]]},
    }

    url = f"{telegram.base_url}/bot{TOKEN}/sendMessage"
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        answer = await response.json()

    assert response.status == 200
    assert answer["ok"] is True
    assert answer["result"]["chat"] == {"id": GROUP, "type": "supergroup", "title": f"Chat {GROUP}"}
    assert answer["result"]["reply_markup"] == body["reply_markup"]


async def test_uploaded_document_can_be_downloaded_and_resent_by_file_id(telegram: TelegramBotApiStandIn) -> None:
    async with a_bot(telegram) as bot:
        first = await bot.send_document(FAN, document=b"%PDF-1.7 guide", filename="guide.pdf", caption="Your guide")
        file = await bot.get_file(first.document.file_id)
        content = await file.download_as_bytearray()
        second = await bot.send_document(FAN + 1, document=first.document.file_id)

    assert (first.document.file_name, first.caption) == ("guide.pdf", "Your guide")
    assert bytes(content) == b"%PDF-1.7 guide"
    assert second.document.file_id == first.document.file_id
    assert telegram.calls_to("sendDocument")[0].uploads["document"].data == b"%PDF-1.7 guide"


async def test_edit_without_reply_markup_removes_the_keyboard_and_a_no_op_edit_is_refused() -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Claim", callback_data="claim:1")]])
    # Edits count against the per-chat flood window like sends; this test is not about flood limits.
    no_chat_limit = RateLimits(per_chat_per_second=None)
    async with TelegramBotApiStandIn(TOKEN, limits=no_chat_limit) as telegram, a_bot(telegram) as bot:
        sent = await bot.send_message(GROUP, "1 left", reply_markup=keyboard)
        edited = await bot.edit_message_text("Sold out", chat_id=GROUP, message_id=sent.message_id)
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_text("Sold out", chat_id=GROUP, message_id=sent.message_id)

    assert (edited.text, edited.reply_markup, edited.edit_date is not None) == ("Sold out", None, True)
    assert "reply_markup" not in telegram.message(GROUP, sent.message_id)


# --- errors like Telegram's ----------------------------------------------------------------------------


async def test_a_user_who_blocked_the_bot_raises_forbidden(telegram: TelegramBotApiStandIn) -> None:
    telegram.block_user(FAN)

    async with a_bot(telegram) as bot:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(FAN, "Your receipt")
        with pytest.raises(Forbidden):
            await bot.send_document(FAN, document=b"x", filename="receipt.pdf")

    assert [call.outcome for call in telegram.calls if call.method != "getMe"] == ["403", "403"]


async def test_a_chat_the_bot_never_saw_raises_bad_request(telegram: TelegramBotApiStandIn) -> None:
    telegram.forbid_chat(GROUP)

    async with a_bot(telegram) as bot:
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(GROUP, "hello")


async def test_a_wrong_token_is_unauthorized(telegram: TelegramBotApiStandIn) -> None:
    with pytest.raises(InvalidToken, match="rejected by the server"):
        async with a_bot(telegram, token="7654321:wrong"):
            pass

    assert (telegram.calls[0].method, telegram.calls[0].outcome, telegram.calls[0].description) == (
        "getMe",
        "401",
        "Unauthorized",
    )


async def test_an_unknown_method_is_not_found(telegram: TelegramBotApiStandIn) -> None:
    async with a_bot(telegram) as bot:
        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": FAN})

    assert telegram.calls_to("sendTelepathy")[0].outcome == "404"


# --- flood limits --------------------------------------------------------------------------------------


async def test_a_second_message_to_a_chat_within_a_second_raises_retry_after(telegram: TelegramBotApiStandIn) -> None:
    async with a_bot(telegram) as bot:
        await bot.send_message(FAN, "one")
        with pytest.raises(RetryAfter) as raised:
            await bot.send_message(FAN, "two")
        await bot.send_message(FAN + 1, "another chat is fine")

    assert seconds(raised.value.retry_after) >= 1
    assert [call.outcome for call in telegram.calls_to("sendMessage")] == ["ok", "429", "ok"]
    assert telegram.calls_to("sendMessage")[1].description == "Too Many Requests: retry after 1"


async def test_rate_limiter_tuned_for_sliding_windows_delivers_60_messages_without_a_429() -> None:
    # A leaky bucket AsyncLimiter(B, P) lets B + B/P calls into any 1 s window; B=1, P=1/(N-1) keeps it at N.
    limits = RateLimits(overall_per_second=20, per_chat_per_second=7)
    limiter = AIORateLimiter(overall_max_rate=1, overall_time_period=1 / 19, group_max_rate=1, group_time_period=1 / 6)
    chats = [GROUP, GROUP - 1, GROUP - 2]

    async with TelegramBotApiStandIn(TOKEN, limits=limits) as telegram, an_app(telegram, limiter) as app:
        await asyncio.gather(*(app.bot.send_message(chats[n % 3], f"Drop {n}") for n in range(60)))

    peak = telegram.max_rate_observed()
    assert (len(telegram.sent_messages()), telegram.count("sendMessage", outcome="429")) == (60, 0)
    assert peak.overall <= 20
    assert peak.busiest_chat <= 7
    assert set(peak.per_chat) == set(chats)


async def test_rate_limiter_with_per_second_buckets_overshoots_a_sliding_window() -> None:
    limits = RateLimits(overall_per_second=30, per_chat_per_second=5)
    limiter = AIORateLimiter(overall_max_rate=30, overall_time_period=1, group_max_rate=5, group_time_period=1)

    async with TelegramBotApiStandIn(TOKEN, limits=limits) as telegram, an_app(telegram, limiter) as app:
        results = await asyncio.gather(
            *(app.bot.send_message(GROUP, f"Drop {n}") for n in range(7)), return_exceptions=True
        )

    assert any(isinstance(result, RetryAfter) for result in results)
    assert telegram.max_rate_observed().busiest_chat <= 5


async def test_rate_limiter_does_not_throttle_private_chats_per_chat(telegram: TelegramBotApiStandIn) -> None:
    async with an_app(telegram, AIORateLimiter()) as app:
        results = await asyncio.gather(
            app.bot.send_message(FAN, "Receipt"), app.bot.send_message(FAN, "Invite"), return_exceptions=True
        )

    assert sum(isinstance(result, RetryAfter) for result in results) == 1


# --- updates -------------------------------------------------------------------------------------------


async def test_a_pushed_start_command_reaches_a_command_handler_by_long_polling(
    telegram: TelegramBotApiStandIn,
) -> None:
    app = an_app(telegram)
    answered = asyncio.Event()

    async def start(update: Update, context: object) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Welcome! Pick a tier.")
        answered.set()

    app.add_handler(CommandHandler("start", start))
    telegram.push_message(FAN, FAN, "/start")
    async with app:
        await app.start()
        await app.updater.start_polling(timeout=dtm.timedelta(seconds=1))
        await asyncio.wait_for(answered.wait(), timeout=5)
        await app.updater.stop()
        await app.stop()

    assert [message["text"] for message in telegram.sent_messages(FAN)] == ["Welcome! Pick a tier."]
    assert telegram.calls_to("getUpdates", outcome="ok")[-1].params["offset"] > 0


async def test_long_poll_waits_for_a_pushed_update_and_honours_the_offset(telegram: TelegramBotApiStandIn) -> None:
    async with a_bot(telegram) as bot:
        waiting = asyncio.create_task(bot.get_updates(timeout=5))
        await asyncio.sleep(0.05)
        pushed = telegram.push_message(FAN, FAN, "hello")
        [update] = await asyncio.wait_for(waiting, timeout=2)
        after = await bot.get_updates(offset=update.update_id + 1, timeout=0)

    assert (update.update_id, update.message.text) == (pushed["update_id"], "hello")
    assert after == ()


async def test_stopping_ends_a_waiting_long_poll_at_once() -> None:
    telegram = TelegramBotApiStandIn(TOKEN)
    await telegram.start()
    async with a_bot(telegram) as bot:
        waiting = asyncio.create_task(bot.get_updates(timeout=30))
        await asyncio.sleep(0.05)
        await asyncio.wait_for(telegram.stop(), timeout=2)
        assert await asyncio.wait_for(waiting, timeout=2) == ()


async def test_a_button_press_reaches_a_callback_handler_and_is_answered(telegram: TelegramBotApiStandIn) -> None:
    app = an_app(telegram)
    presses: list[str] = []

    async def on_press(update: Update, context: object) -> None:
        assert update.callback_query is not None and update.callback_query.data is not None
        presses.append(update.callback_query.data)
        await update.callback_query.answer("Reserved for 10 minutes")

    app.add_handler(CallbackQueryHandler(on_press))
    async with app:
        sent = await app.bot.send_message(
            FAN, "Drop", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Claim", callback_data="claim:7")]])
        )
        update = telegram.push_callback_query(FAN, "claim:7", message=sent.to_dict())
        await app.process_update(Update.de_json(update, app.bot))

    assert presses == ["claim:7"]
    assert telegram.calls_to("answerCallbackQuery")[0].params["text"] == "Reserved for 10 minutes"
    assert telegram.calls_to("answerCallbackQuery")[0].ok


# --- chats, invite links and members -------------------------------------------------------------------


async def test_join_request_approve_ban_and_unban_are_recorded(telegram: TelegramBotApiStandIn) -> None:
    async with a_bot(telegram) as bot:
        link = await bot.create_chat_invite_link(GROUP, name="Fan tier", creates_join_request=True)
        assert telegram.join_by_link(FAN, link.invite_link) == "requested"
        [update] = await bot.get_updates()
        await bot.approve_chat_join_request(GROUP, FAN)
        member = await bot.get_chat_member(GROUP, FAN)
        await bot.ban_chat_member(GROUP, FAN)
        banned = await bot.get_chat_member(GROUP, FAN)
        await bot.unban_chat_member(GROUP, FAN, only_if_banned=True)
        after = await bot.get_chat_member(GROUP, FAN)

    assert update.chat_join_request.invite_link.invite_link == link.invite_link
    assert (update.chat_join_request.from_user.id, update.chat_join_request.user_chat_id) == (FAN, FAN)
    assert (member.status, banned.status, after.status) == ("member", "kicked", "left")
    recorded = [(c.method, c.params.get("user_id")) for c in telegram.calls if c.method.endswith(("Request", "Member"))]
    assert recorded == [
        ("approveChatJoinRequest", FAN),
        ("getChatMember", FAN),
        ("banChatMember", FAN),
        ("getChatMember", FAN),
        ("unbanChatMember", FAN),
        ("getChatMember", FAN),
    ]
    assert telegram.calls_to("unbanChatMember")[0].params["only_if_banned"] is True


async def test_approving_a_request_that_is_gone_is_refused_like_telegram(telegram: TelegramBotApiStandIn) -> None:
    telegram.push_chat_join_request(GROUP, FAN)

    async with a_bot(telegram) as bot:
        await bot.decline_chat_join_request(GROUP, FAN)
        with pytest.raises(BadRequest, match="Hide_requester_missing"):
            await bot.approve_chat_join_request(GROUP, FAN)

    assert telegram.member_status(GROUP, FAN) == "left"


async def test_a_one_use_link_admits_one_member_and_a_revoked_link_none(telegram: TelegramBotApiStandIn) -> None:
    async with a_bot(telegram) as bot:
        link = await bot.create_chat_invite_link(GROUP, member_limit=1)
        first, second = telegram.join_by_link(FAN, link.invite_link), telegram.join_by_link(FAN + 1, link.invite_link)
        revoked = await bot.revoke_chat_invite_link(GROUP, link.invite_link)

    assert (first, second, revoked.is_revoked) == ("joined", "full", True)
    assert telegram.join_by_link(FAN + 2, link.invite_link) == "revoked"


async def test_a_limited_link_cannot_also_require_approval(telegram: TelegramBotApiStandIn) -> None:
    async with a_bot(telegram) as bot:
        with pytest.raises(BadRequest, match="Member limit can't be specified"):
            await bot.create_chat_invite_link(GROUP, member_limit=1, creates_join_request=True)


async def test_commands_are_stored_per_scope(telegram: TelegramBotApiStandIn) -> None:
    async with a_bot(telegram) as bot:
        await bot.set_my_commands([("start", "Open the shop"), ("tiers", "See the tiers")])
        commands = await bot.get_my_commands()

    assert [(c.command, c.description) for c in commands] == [("start", "Open the shop"), ("tiers", "See the tiers")]
