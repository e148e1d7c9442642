"""Telegram side of the outbox: one-time invite links, kicks (ban then unban) and direct messages.

Pacing comes from the bot's rate limiter (`bots.delivery.telegram_pace`); it does not pace private chats one by
one, so direct messages get a small per-chat pacer here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bots.delivery.telegram_pace import retry_after_seconds
from storefront.outbox_delivery import (
    DeliveryRejected,
    NeedsAdmin,
    OutgoingMessage,
    RecipientUnreachable,
    RetryLater,
)

__all__ = ["TelegramDeliverer"]

# Telegram refuses a ban shorter than 30 s as "forever"; a short ban also lifts itself if the unban is lost.
_KICK_BAN = timedelta(minutes=2)
_NOT_IN_CHAT = ("user not found", "participant_id_invalid", "user_not_participant", "member not found")
_ADMIN_PROBLEMS = (
    "chat not found",
    "not enough rights",
    "have no rights",
    "chat_admin_required",
    "need administrator rights",
    "bot is not a member",
    "bot was kicked",
)


class _PerChatPacer:
    """At most one message per `interval` seconds to each private chat (the bot's rate limiter does not do this).

    The default keeps a margin over Telegram's one a second: requests start paced but arrive with jitter.
    """

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._next: dict[int, float] = {}

    async def wait(self, chat_id: int) -> None:
        if self._interval <= 0:
            return
        moment = time.monotonic()
        if len(self._next) > 10_000:
            self._next = {chat: at for chat, at in self._next.items() if at > moment}
        slot = max(moment, self._next.get(chat_id, 0.0))
        self._next[chat_id] = slot + self._interval
        if slot > moment:
            await asyncio.sleep(slot - moment)


class TelegramDeliverer:
    """Delivers grants, revokes and messages to Telegram users through `bot` (an ExtBot with a rate limiter)."""

    resource_key = "telegram_chat_ids"
    grant_yields_link = True

    def __init__(
        self,
        bot: Bot,
        *,
        concurrency: int = 16,
        invite_ttl: timedelta = timedelta(days=1),
        per_chat_interval: float = 1.1,
    ) -> None:
        self._bot = bot
        self.concurrency = concurrency
        self._invite_ttl = invite_ttl
        self._pacer = _PerChatPacer(per_chat_interval)

    async def grant(self, user_id: int, resource_id: int, *, now: datetime, reason: str) -> str:
        """A one-time invite link to the chat, for this person only; sent to them in a message."""
        try:
            link = await self._bot.create_chat_invite_link(
                resource_id, expire_date=now + self._invite_ttl, member_limit=1, name=f"member {user_id}"[:32]
            )
        except TelegramError as error:
            raise _chat_error(error, resource_id, "create an invite link for") from error
        return link.invite_link

    async def revoke(
        self, user_id: int, resource_id: int, *, now: datetime, reason: str, issued_links: Sequence[str]
    ) -> None:
        """Invalidate the person's unused invite links, then kick them: ban briefly and unban at once."""
        for link in issued_links:
            try:
                await self._bot.revoke_chat_invite_link(resource_id, link)
            except BadRequest:
                pass  # expired, already revoked or unknown: unusable either way
            except TelegramError as error:
                raise _chat_error(error, resource_id, "revoke an invite link in") from error
        try:
            await self._bot.ban_chat_member(resource_id, user_id, until_date=now + _KICK_BAN)
            await self._bot.unban_chat_member(resource_id, user_id, only_if_banned=True)
        except BadRequest as error:
            if any(marker in error.message.lower() for marker in _NOT_IN_CHAT):
                return
            raise _chat_error(error, resource_id, "remove a member from") from error
        except TelegramError as error:
            raise _chat_error(error, resource_id, "remove a member from") from error

    async def send(self, user_id: int, message: OutgoingMessage) -> None:
        markup = (
            InlineKeyboardMarkup([[InlineKeyboardButton(button.label, url=button.url)] for button in message.buttons])
            if message.buttons
            else None
        )
        await self._pacer.wait(user_id)
        try:
            await self._bot.send_message(
                user_id,
                message.text,
                reply_markup=markup,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except Forbidden as error:
            raise RecipientUnreachable(f"telegram: {error.message}") from error
        except BadRequest as error:
            if "chat not found" in error.message.lower():
                raise RecipientUnreachable(f"telegram: {error.message} (never started the bot?)") from error
            raise DeliveryRejected(f"telegram: {error.message}") from error
        except TelegramError as error:
            raise _transient(error) from error


def _transient(error: TelegramError) -> Exception:
    if isinstance(error, RetryAfter):
        return RetryLater(f"telegram: {error.message}", retry_after_seconds(error))
    if isinstance(error, InvalidToken):
        return NeedsAdmin("telegram:token", "Telegram refuses the bot token (TELEGRAM_BOT_TOKEN): replace it.")
    if isinstance(error, NetworkError):  # includes TimedOut; BadRequest is handled before this
        return RetryLater(f"telegram: {error.message}")
    return DeliveryRejected(f"telegram: {error.message}")


def _chat_error(error: TelegramError, chat_id: int, action: str) -> Exception:
    """Errors about a members' chat: missing rights or a wrong chat id are for an admin to fix."""
    if isinstance(error, ChatMigrated):
        return NeedsAdmin(
            f"telegram:chat:{chat_id}",
            f"Telegram chat {chat_id} became supergroup {error.new_chat_id}: put the new id in catalog.toml.",
        )
    if isinstance(error, Forbidden) or (
        isinstance(error, BadRequest) and any(marker in error.message.lower() for marker in _ADMIN_PROBLEMS)
    ):
        return NeedsAdmin(
            f"telegram:chat:{chat_id}",
            f"I can't {action} Telegram chat {chat_id}: {error.message}. Make the bot an admin there with "
            "'Invite users via link' and 'Ban users', and check the chat id in catalog.toml.",
        )
    if isinstance(error, BadRequest):
        return DeliveryRejected(f"telegram: {error.message}")
    return _transient(error)
