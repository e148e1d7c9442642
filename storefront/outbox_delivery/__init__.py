"""Delivers the outbox to chat platforms: each (outbox row, target, step) exactly once, even across crashes.

An outbox row is expanded once into steps per target identity (`outbox_deliveries`): grant or revoke one
resource (a Discord role, a Telegram chat) and/or send one message. Each step is claimed (status `sending`)
in a committed transaction right before the platform call and completed right after it, so a restart resumes
where the last process stopped and never repeats a step whose completion was recorded. A step that was in
flight when the process died is the one unavoidable at-least-once window: it is sent again after a restart,
so at most one duplicate per in-flight step, and no more steps are in flight than the deliverers'
`concurrency`. Claims and completions are group-committed: what arrives while one commit runs goes into the
next, which keeps SQLite ahead of the platforms' rate limits without widening that window.

Rows of one member are delivered in order (a revoke never overtakes the grant before it); transient failures
are retried from `next_attempt_at` with backoff; people who blocked the bot or closed their DMs are recorded
and not retried; a misconfiguration (missing permission, role above the bot's) holds the step and tells the
admins once, as an outbox message of its own.

This module knows no chat platform: `bots.delivery` implements `Deliverer` for Telegram and Discord.
"""

from __future__ import annotations

from storefront.outbox_delivery._contract import (
    ADMIN_ALERT_TEMPLATE,
    Deliverer,
    DeliveryError,
    DeliveryRejected,
    DeliveryStatus,
    LinkButton,
    NeedsAdmin,
    NotInCommunity,
    OutgoingMessage,
    RecipientUnreachable,
    RetryLater,
)
from storefront.outbox_delivery._held_steps import retry_held_deliveries, undelivered_steps
from storefront.outbox_delivery._worker import OutboxDeliveryWorker

__all__ = [
    "ADMIN_ALERT_TEMPLATE",
    "Deliverer",
    "DeliveryError",
    "DeliveryRejected",
    "DeliveryStatus",
    "LinkButton",
    "NeedsAdmin",
    "NotInCommunity",
    "OutboxDeliveryWorker",
    "OutgoingMessage",
    "RecipientUnreachable",
    "RetryLater",
    "retry_held_deliveries",
    "undelivered_steps",
]
