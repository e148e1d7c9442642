"""What the outbox worker and the chat platforms' deliverers agree on: messages, step statuses, errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from storefront.errors import StorefrontError

ADMIN_ALERT_TEMPLATE = "admin_alert"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed; the platform call may or may not have happened
    DONE = "done"
    UNREACHABLE = "unreachable"  # the person blocked the bot or closed their DMs
    SKIPPED = "skipped"  # nothing to do there (not in the server, no link to send)
    NEEDS_ADMIN = "needs_admin"  # held until an admin fixes a misconfiguration
    FAILED = "failed"  # refused for good, or out of attempts


OPEN_STATUSES = (DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value)
PROBLEM_STATUSES = (DeliveryStatus.NEEDS_ADMIN.value, DeliveryStatus.FAILED.value)
NOTE_STATUSES = (DeliveryStatus.UNREACHABLE.value, DeliveryStatus.SKIPPED.value)


@dataclass(frozen=True)
class LinkButton:
    label: str
    url: str


@dataclass(frozen=True)
class OutgoingMessage:
    """A direct message as the platforms render it: plain text and link buttons."""

    text: str
    buttons: tuple[LinkButton, ...] = ()


# --- what a deliverer may raise ----------------------------------------------------------------------------


class DeliveryError(StorefrontError):
    """A step did not happen; the subclass says whether and when to try again."""


class RetryLater(DeliveryError):
    """Transient (rate limit, network, server error): retried from the database after `retry_after` or backoff."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(reason)


class RecipientUnreachable(DeliveryError):
    """The person cannot be messaged (blocked the bot, closed DMs): recorded, not retried."""


class NotInCommunity(DeliveryError):
    """The person is not in the server or chat, so there is nothing to grant there: recorded, not retried."""


class NeedsAdmin(DeliveryError):
    """A misconfiguration only an admin can fix; `problem` names it so admins hear about it once."""

    def __init__(self, problem: str, message: str) -> None:
        self.problem = problem
        self.message = message
        super().__init__(message)


class DeliveryRejected(DeliveryError):
    """Refused for good for another reason: recorded as failed, not retried."""


class Deliverer(Protocol):
    """One chat platform as the outbox worker sees it; the mapping key is the identity prefix ("telegram")."""

    # The key of this platform's resource ids in an ACCESS payload's grant/revoke ("telegram_chat_ids").
    resource_key: str
    # Steps of this platform in flight at once; also bounds the duplicates a crash can cause.
    concurrency: int
    # True when a grant returns a link the person must be sent (Telegram invite links).
    grant_yields_link: bool

    async def grant(self, user_id: int, resource_id: int, *, now: datetime, reason: str) -> str | None:
        """Give access to one resource; returns a link to send the person, if the platform needs one."""
        ...

    async def revoke(
        self, user_id: int, resource_id: int, *, now: datetime, reason: str, issued_links: Sequence[str]
    ) -> None:
        """Take access to one resource away; `issued_links` are the person's links for it still to invalidate."""
        ...

    async def send(self, user_id: int, message: OutgoingMessage) -> None: ...
