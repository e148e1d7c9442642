"""Discord side of the outbox: role add/remove in the creator's server and direct messages.

discord.py handles the per-route buckets and 429s (it sleeps `retry_after` and tries again); what it lacks is
a cap on the bot's overall request rate (Discord allows about 50/s), which `requests_per_second` adds here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

import aiohttp
import discord
from aiolimiter import AsyncLimiter

from storefront.outbox_delivery import (
    DeliveryRejected,
    NeedsAdmin,
    NotInCommunity,
    OutgoingMessage,
    RecipientUnreachable,
    RetryLater,
)

__all__ = ["DiscordDeliverer"]

T = TypeVar("T")

# Discord's JSON error codes (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
UNKNOWN_GUILD = 10004
UNKNOWN_MEMBER = 10007
UNKNOWN_ROLE = 10011
UNKNOWN_USER = 10013
MISSING_ACCESS = 50001
CANNOT_MESSAGE_USER = 50007
MISSING_PERMISSIONS = 50013


class DiscordDeliverer:
    """Delivers role grants/revokes in `guild_id` and direct messages through a logged-in `discord.Client`."""

    resource_key = "discord_role_ids"
    grant_yields_link = False

    def __init__(
        self, client: discord.Client, guild_id: int, *, concurrency: int = 16, requests_per_second: int = 45
    ) -> None:
        self._client = client
        self._guild_id = guild_id
        self.concurrency = concurrency
        # A bucket of 1 refilled at N - 1 per second admits at most N requests in any sliding second.
        self._limiter = AsyncLimiter(1, 1 / max(1, requests_per_second - 1))

    async def grant(self, user_id: int, resource_id: int, *, now: datetime, reason: str) -> None:
        await self._role_call(self._client.http.add_role, user_id, resource_id, reason, adding=True)
        return None

    async def revoke(
        self, user_id: int, resource_id: int, *, now: datetime, reason: str, issued_links: Sequence[str]
    ) -> None:
        await self._role_call(self._client.http.remove_role, user_id, resource_id, reason, adding=False)

    async def send(self, user_id: int, message: OutgoingMessage) -> None:
        view = None
        if message.buttons:
            view = discord.ui.View(timeout=None)
            for button in message.buttons:
                view.add_item(discord.ui.Button(style=discord.ButtonStyle.link, label=button.label, url=button.url))
        try:
            channel = await self._paced(lambda: self._client.create_dm(discord.Object(id=user_id)))
            kwargs = {"view": view} if view is not None else {}
            await self._paced(
                lambda: channel.send(message.text[:2000], allowed_mentions=discord.AllowedMentions.none(), **kwargs)
            )
        except discord.Forbidden as error:
            raise RecipientUnreachable(f"discord: {error.text or 'Cannot send messages to this user'}") from error
        except discord.NotFound as error:
            raise DeliveryRejected(f"discord: {error.text or 'unknown user'} ({error.code})") from error
        except discord.HTTPException as error:
            raise _transient_or_rejected(error) from error

    async def _role_call(
        self,
        call: Callable[..., Awaitable[None]],
        user_id: int,
        role_id: int,
        reason: str,
        *,
        adding: bool,
    ) -> None:
        verb = "give" if adding else "remove"
        try:
            await self._paced(lambda: call(self._guild_id, user_id, role_id, reason=reason))
        except discord.Forbidden as error:  # 50013 Missing Permissions, 50001 Missing Access
            raise NeedsAdmin(
                f"discord:permissions:{self._guild_id}",
                f"I can't {verb} the role {role_id} in the Discord server {self._guild_id}: Discord says "
                f"'{error.text or 'Missing Permissions'}' ({error.code}). Give the bot the Manage Roles "
                "permission and drag its role above every tier role in Server Settings > Roles.",
            ) from error
        except discord.NotFound as error:
            if error.code == UNKNOWN_MEMBER:
                if adding:
                    raise NotInCommunity(f"discord: user {user_id} is not in the server") from error
                return  # not in the server: nothing to take away
            if error.code == UNKNOWN_ROLE:
                raise NeedsAdmin(
                    f"discord:role:{role_id}",
                    f"The Discord role {role_id} in catalog.toml does not exist in server {self._guild_id}: "
                    "fix the role id in the catalog.",
                ) from error
            if error.code == UNKNOWN_GUILD:
                raise NeedsAdmin(
                    f"discord:guild:{self._guild_id}",
                    f"The bot is not in the Discord server {self._guild_id} (DISCORD_GUILD_ID): invite it.",
                ) from error
            raise DeliveryRejected(f"discord: {error.text} ({error.code})") from error
        except discord.HTTPException as error:
            raise _transient_or_rejected(error) from error

    async def _paced(self, call: Callable[[], Awaitable[T]]) -> T:
        if self._client.user is None:
            raise RetryLater("discord: the client is not logged in yet")
        async with self._limiter:
            try:
                return await call()
            except discord.RateLimited as error:  # a 429 longer than the client's max_ratelimit_timeout
                raise RetryLater("discord: rate limited", error.retry_after) from error
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                raise RetryLater(f"discord: {type(error).__name__}: {error}") from error


def _transient_or_rejected(error: discord.HTTPException) -> Exception:
    if error.status >= 500 or error.status == 429:
        return RetryLater(f"discord: HTTP {error.status} {error.text}", 60.0 if error.status == 429 else None)
    return DeliveryRejected(f"discord: HTTP {error.status} {error.text} ({error.code})")
