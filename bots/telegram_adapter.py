"""Telegram: python-telegram-bot handlers over the command table, inline keyboards, join requests."""

from __future__ import annotations

import logging
import re
import ssl

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    ChatInviteLink,
    ChatMember,
    Document,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    BaseRateLimiter,
    CallbackQueryHandler,
    ChatJoinRequestHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bots.command_table import CommandTable
from bots.commands import COMMANDS
from bots.delivery.telegram_pace import telegram_rate_limiter
from bots.permissions import Audience, Caller, Platform
from bots.rendering import BUTTON_PREFIX, Reply, telegram_html
from bots.services import BotServices
from bots.telegram_http import AiohttpRequest
from bots.uploads import Upload
from entitlements.access import decide_join_request, managed_telegram_chats

__all__ = ["TelegramAdapter", "telegram_base_urls", "telegram_keyboard", "telegram_rate_limiter"]

log = logging.getLogger(__name__)

_MAX_CALLBACK_DATA = 64
ALLOWED_UPDATES = ("message", "callback_query", "chat_join_request", "chat_member")


def telegram_base_urls(api_base_url: str) -> tuple[str, str]:
    """`base_url` and `base_file_url` for PTB from a Bot API server address (with or without `/bot`)."""
    root = api_base_url.rstrip("/").removesuffix("/bot")
    return f"{root}/bot", f"{root}/file/bot"


def telegram_keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    rows = []
    for row in reply.buttons:
        buttons = []
        for button in row:
            if button.url is not None:
                buttons.append(InlineKeyboardButton(button.label, url=button.url))
                continue
            data = f"{BUTTON_PREFIX}{button.command}"
            if len(data.encode()) > _MAX_CALLBACK_DATA:
                raise ValueError(f"button command {button.command!r} is too long for Telegram's callback data")
            buttons.append(InlineKeyboardButton(button.label, callback_data=data))
        rows.append(buttons)
    return InlineKeyboardMarkup(rows) if rows else None


def _upload(document: Document) -> Upload:
    async def read() -> bytes:
        file = await document.get_file()
        return bytes(await file.download_as_bytearray())

    return Upload(document.file_name or f"{document.file_unique_id}.bin", document.file_size, document.mime_type, read)


def _personal_link(link: ChatInviteLink | None, bot_id: int) -> bool:
    """Links our bot makes are issued to one person; a shared or primary link is left alone."""
    return link is not None and link.creator.id == bot_id and not link.is_primary


class TelegramAdapter:
    """Routes Telegram updates to the command table and the access rules; owns the PTB Application."""

    def __init__(self, application: Application, services: BotServices, table: CommandTable = COMMANDS) -> None:
        self.application = application
        self.services = services
        self.table = table
        self._managed_chats = managed_telegram_chats(services.catalog)
        for command in table.for_platform(Platform.TELEGRAM):
            application.add_handler(CommandHandler(command.name, self.on_command))
            if command.uploads:
                # Files come as a document whose caption is the command (CommandHandler never reads captions).
                caption = filters.CaptionRegex(rf"^/{re.escape(command.name)}(@\w+)?(\s|$)")
                application.add_handler(MessageHandler(caption, self.on_captioned_command))
        application.add_handler(CallbackQueryHandler(self.on_button, pattern=f"^{BUTTON_PREFIX}"))
        application.add_handler(ChatJoinRequestHandler(self.on_join_request))
        application.add_handler(ChatMemberHandler(self.on_chat_member, ChatMemberHandler.CHAT_MEMBER))
        application.add_error_handler(self._on_error)

    @classmethod
    def build(
        cls,
        token: str,
        services: BotServices,
        *,
        api_base_url: str | None = None,
        table: CommandTable = COMMANDS,
        rate_limiter: BaseRateLimiter[int] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> TelegramAdapter:
        """The adapter and its PTB Application, talking HTTP through aiohttp (`ssl_context`: e.g. a shared one)."""
        # One limiter for replies and deliveries: under 30 msg/s overall and 20/min per group in any sliding window.
        builder = Application.builder().token(token).rate_limiter(rate_limiter or telegram_rate_limiter())
        # Updates are independent (all state is in the database): one fan's Stripe call does not hold up the next.
        builder = builder.concurrent_updates(True)
        builder = builder.request(AiohttpRequest(256, ssl_context=ssl_context))
        builder = builder.get_updates_request(AiohttpRequest(1, ssl_context=ssl_context))
        if api_base_url:
            base_url, base_file_url = telegram_base_urls(api_base_url)
            builder = builder.base_url(base_url).base_file_url(base_file_url)
        return cls(builder.build(), services, table)

    # --- lifecycle -----------------------------------------------------------------------------------------

    async def start(self, *, poll_timeout: float = 10.0) -> None:
        """Connect, publish the command menus and start long polling in the running event loop."""
        await self.application.initialize()
        await self.publish_commands()
        await self.application.start()
        assert self.application.updater is not None
        await self.application.updater.start_polling(timeout=poll_timeout, allowed_updates=list(ALLOWED_UPDATES))
        log.info("telegram bot @%s polling", self.application.bot.username)

    async def stop(self) -> None:
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    async def publish_commands(self) -> None:
        """The fan commands for everyone; admins also see theirs in their private chat with the bot."""
        commands = self.table.for_platform(Platform.TELEGRAM)
        fan = [BotCommand(c.name, c.description) for c in commands if c.audience is Audience.FAN]
        everything = [BotCommand(c.name, c.description) for c in commands]
        bot = self.application.bot
        await bot.set_my_commands(fan, scope=BotCommandScopeDefault())
        for admin_id in sorted(self.services.policy.telegram_admin_ids):
            try:
                await bot.set_my_commands(everything, scope=BotCommandScopeChat(admin_id))
            except TelegramError as error:  # an admin who never opened the bot has no chat yet
                log.warning("could not show admin commands to telegram:%s: %s", admin_id, error)

    # --- incoming updates ----------------------------------------------------------------------------------

    @staticmethod
    def _caller(user: User, chat_type: str | None) -> Caller:
        return Caller(
            Platform.TELEGRAM, user.id, name=user.first_name or "", private_chat=chat_type in (None, ChatType.PRIVATE)
        )

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or not message.text:
            return
        await self._run(message, user, message.text, ())

    async def on_captioned_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A command written as the caption of a file (`/pack add 2026-12` on a document)."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or not message.caption:
            return
        uploads = (_upload(message.document),) if message.document else ()
        await self._run(message, user, message.caption, uploads)

    async def _run(self, message: Message, user: User, text: str, uploads: tuple[Upload, ...]) -> None:
        command, *words = text.split()
        name = command.removeprefix("/").partition("@")[0].lower()
        caller = self._caller(user, message.chat.type)
        reply = await self.table.run(name, words, caller, self.services, uploads)
        await self.send(message.chat_id, reply)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.data is None:
            return
        await query.answer()  # stop the button's spinner at once; the reply follows as a message
        chat = query.message.chat if query.message else None
        caller = self._caller(query.from_user, chat.type if chat else None)
        reply = await self.table.run_line(query.data.removeprefix(BUTTON_PREFIX), caller, self.services)
        await self.send(chat.id if chat else query.from_user.id, reply)

    async def send(self, chat_id: int, reply: Reply) -> None:
        bot = self.application.bot
        await bot.send_message(
            chat_id, telegram_html(reply), parse_mode=ParseMode.HTML, reply_markup=telegram_keyboard(reply)
        )
        for file in reply.files:
            if file.image:
                await bot.send_photo(chat_id, file.data, filename=file.name)
            else:
                await bot.send_document(chat_id, file.data, filename=file.name)

    async def _entitled(self, user_id: int, chat_id: int) -> bool:
        async with self.services.db.read() as conn:
            return await decide_join_request(conn, f"telegram:{user_id}", chat_id, self.services.catalog)

    async def on_join_request(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Approve members whose tier grants the chat; decline anyone else and revoke the personal link they used."""
        request = update.chat_join_request
        if request is None or request.chat.id not in self._managed_chats:
            return
        user_id = request.from_user.id
        try:
            if await self._entitled(user_id, request.chat.id):
                await request.approve()
                log.info("approved telegram:%s into %s", user_id, request.chat.id)
                return
            await request.decline()
            log.info("declined telegram:%s for %s: not entitled", user_id, request.chat.id)
            if _personal_link(request.invite_link, context.bot.id):
                await context.bot.revoke_chat_invite_link(request.chat.id, request.invite_link.invite_link)
        except TelegramError as error:  # e.g. the request was already answered
            log.warning("join request of telegram:%s for %s: %s", user_id, request.chat.id, error)

    async def on_chat_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Someone joined a members' chat through an invite link without being entitled: remove them, kill the link."""
        change = update.chat_member
        if change is None or change.chat.id not in self._managed_chats or change.invite_link is None:
            return
        joined = change.new_chat_member.status == ChatMember.MEMBER and change.old_chat_member.status in (
            ChatMember.LEFT,
            ChatMember.BANNED,
        )
        user = change.new_chat_member.user
        if not joined or user.is_bot or await self._entitled(user.id, change.chat.id):
            return
        chat_id = change.chat.id
        try:
            await context.bot.ban_chat_member(chat_id, user.id)
            await context.bot.unban_chat_member(chat_id, user.id, only_if_banned=True)
            if _personal_link(change.invite_link, context.bot.id):
                await context.bot.revoke_chat_invite_link(chat_id, change.invite_link.invite_link)
            log.info("removed telegram:%s from %s: joined by a link without being entitled", user.id, chat_id)
        except TelegramError as error:
            log.warning("could not remove telegram:%s from %s: %s", user.id, chat_id, error)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update failed: %s", context.error, exc_info=context.error)
