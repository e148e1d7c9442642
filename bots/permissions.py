"""Who may run what: fans run fan commands; creator and admin commands need the team's say-so."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from storefront.config import Settings

__all__ = ["Audience", "Caller", "Platform", "Policy"]


class Platform(StrEnum):
    TELEGRAM = "telegram"
    DISCORD = "discord"


class Audience(StrEnum):
    FAN = "fan"
    CREATOR = "creator"
    ADMIN = "admin"


@dataclass(frozen=True)
class Caller:
    """The person running a command, as the platform vouches for them."""

    platform: Platform
    user_id: int
    name: str = ""
    manages_server: bool = False  # Discord: administrator or Manage Server in the server the command came from
    private_chat: bool = True  # Telegram: the command was sent in a private chat with the bot

    @property
    def identity(self) -> str:
        return f"{self.platform.value}:{self.user_id}"


@dataclass(frozen=True)
class Policy:
    """Admins are configured ids (ADMIN_TELEGRAM_IDS, ADMIN_DISCORD_IDS) or Discord server managers.

    Creator commands are open to the same people: running the shop and making for it are one team here.
    """

    telegram_admin_ids: frozenset[int] = frozenset()
    discord_admin_ids: frozenset[int] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(frozenset(settings.admin_telegram_ids), frozenset(settings.admin_discord_ids))

    @classmethod
    def of(cls, *, telegram: Iterable[int] = (), discord: Iterable[int] = ()) -> Policy:
        return cls(frozenset(telegram), frozenset(discord))

    def is_admin(self, caller: Caller) -> bool:
        if caller.platform is Platform.TELEGRAM:
            return caller.user_id in self.telegram_admin_ids
        return caller.manages_server or caller.user_id in self.discord_admin_ids

    def allows(self, audience: Audience, caller: Caller) -> bool:
        return audience is Audience.FAN or self.is_admin(caller)
