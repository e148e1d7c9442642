"""Drop announcements in configured channels: post each phase once, keep the countdown current with paced edits.

`DropAnnouncer` is platform-neutral: it renders an `Announcement` as a `Reply` and hands it to targets
(`TelegramChannel`, `DiscordChannel`, or any object with `post`/`edit`). Buttons are command lines
(`claim 12`, `waitlist 12`, `notify 12`), so they run through the one command table on both platforms.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import discord
from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bots.discord_adapter import DiscordAdapter
from bots.rendering import Button, Reply, discord_markdown, telegram_html
from bots.telegram_adapter import telegram_keyboard
from drops import Announcement, DropPhase, DropService, PostedMessage
from storefront.clock import Clock

__all__ = [
    "AnnouncementTarget",
    "DiscordChannel",
    "DropAnnouncer",
    "PostedMessage",
    "TelegramChannel",
    "announcement_reply",
]

log = logging.getLogger(__name__)

_COMMAND_OF_ACTION = {"claim": "claim", "join_waitlist": "waitlist", "notify_me": "notify"}


class AnnouncementTarget(Protocol):
    """One configured announcement channel on one platform."""

    name: str

    async def post(self, reply: Reply) -> PostedMessage: ...

    async def edit(self, posted: PostedMessage, reply: Reply) -> None: ...


def announcement_reply(announcement: Announcement) -> Reply:
    """The post as a platform-neutral reply: its text, and one row of command buttons for the phase."""
    title, _, body = announcement.text.partition("\n")
    buttons = tuple(
        Button(button.label, command=f"{_COMMAND_OF_ACTION[button.action]} {button.drop_id}")
        for button in announcement.buttons
    )
    return Reply.text(*body.splitlines(), title=title, buttons=(buttons,) if buttons else ())


@dataclass
class TelegramChannel:
    """A Telegram channel or group the bot may post in (PTB's Bot; its rate limiter paces the calls)."""

    bot: Bot
    chat_id: int

    @property
    def name(self) -> str:
        return f"telegram:{self.chat_id}"

    async def post(self, reply: Reply) -> PostedMessage:
        message = await self.bot.send_message(
            self.chat_id, telegram_html(reply), parse_mode=ParseMode.HTML, reply_markup=telegram_keyboard(reply)
        )
        return PostedMessage(self.name, message.message_id)

    async def edit(self, posted: PostedMessage, reply: Reply) -> None:
        try:
            await self.bot.edit_message_text(
                telegram_html(reply),
                chat_id=self.chat_id,
                message_id=posted.message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=telegram_keyboard(reply),
            )
        except BadRequest as error:
            if "not modified" not in str(error).lower():
                raise


@dataclass
class DiscordChannel:
    """A Discord text channel; buttons are the persistent `sf:<command line>` buttons of the adapter."""

    client: discord.Client
    channel_id: int

    @property
    def name(self) -> str:
        return f"discord:{self.channel_id}"

    async def _channel(self) -> discord.abc.Messageable:
        channel = self.client.get_channel(self.channel_id) or await self.client.fetch_channel(self.channel_id)
        assert isinstance(channel, discord.abc.Messageable), f"{self.name} is not a text channel"
        return channel

    async def post(self, reply: Reply) -> PostedMessage:
        view = DiscordAdapter.view_of(reply)
        channel = await self._channel()
        message = await channel.send(discord_markdown(reply), **({"view": view} if view else {}))
        return PostedMessage(self.name, message.id)

    async def edit(self, posted: PostedMessage, reply: Reply) -> None:
        channel = await self._channel()
        assert isinstance(channel, discord.TextChannel | discord.Thread | discord.DMChannel | discord.VoiceChannel)
        await channel.get_partial_message(posted.message_id).edit(
            content=discord_markdown(reply), view=DiscordAdapter.view_of(reply)
        )


_FINAL = (DropPhase.CLOSED, DropPhase.CANCELLED)


class DropAnnouncer:
    """Posts due announcements to every target, then records them; `refresh_countdowns` edits at most once per
    message per `edit_every` and only when the text changed. Where each live announcement was posted is kept in
    the database (`drops.AnnouncementPosts`), so a restarted bot goes on editing the same messages."""

    def __init__(
        self,
        drops: DropService,
        targets: Sequence[AnnouncementTarget],
        clock: Clock,
        *,
        edit_every: timedelta = timedelta(seconds=60),
    ) -> None:
        self.drops = drops
        self.targets = {target.name: target for target in targets}
        self.clock = clock
        self.edit_every = edit_every
        self._posts = drops.announcement_posts

    async def post_due(self) -> int:
        """Post every announcement that is due; a drop is marked announced once at least one channel has it."""
        posted_count = 0
        for announcement in await self.drops.announcements_due():
            drop_id, phase = announcement.drop.id, announcement.drop.phase
            reply = announcement_reply(announcement)
            messages = []
            for target in self.targets.values():
                try:
                    messages.append(await target.post(reply))
                except (TelegramError, discord.DiscordException) as error:
                    log.warning("announcing drop %s (%s) in %s failed: %s", drop_id, phase.value, target.name, error)
            if not messages and self.targets:
                continue  # nothing posted: stays due, tried again on the next tick
            # A final post has no countdown left to keep current.
            previous = await self._posts.announced(
                drop_id, phase, messages, reply.plain, self.clock.now(), keep_editing=phase not in _FINAL
            )
            posted_count += 1
            if previous is not None:  # the older post stops offering the buttons of a phase that is over
                await self._edit_all(previous.messages, reply)
        return posted_count

    async def refresh_countdowns(self) -> int:
        """Re-render every live announcement; edit its messages when the text changed, at most once per
        `edit_every`. How many messages were edited."""
        now = self.clock.now()
        edits = 0
        for live in await self._posts.live():
            if now - live.written_at < self.edit_every:
                continue
            reply = announcement_reply(await self.drops.announcement(live.drop_id))
            if reply.plain == live.shown:
                continue
            edits += await self._edit_all(live.messages, reply)
            await self._posts.rewritten(live.drop_id, reply.plain, now)
        return edits

    async def tick(self) -> None:
        """What a periodic job runs: post what is due, then refresh the countdowns."""
        await self.post_due()
        await self.refresh_countdowns()

    async def _edit_all(self, messages: Sequence[PostedMessage], reply: Reply) -> int:
        edits = 0
        for posted in messages:
            target = self.targets.get(posted.target)
            if target is None:
                continue
            try:
                await target.edit(posted, reply)
                edits += 1
            except (TelegramError, discord.DiscordException) as error:
                log.warning("editing the announcement %s in %s failed: %s", posted.message_id, posted.target, error)
        return edits
