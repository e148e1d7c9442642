"""Countdown drops with limited supply: holds, early access, waitlist, timers (issue 4).

Adapters use `DropService` (one typed call per command or button), the input and view models, the errors
(each `str(error)` is the line to show), `countdown_text`, and `DropPurchases` (registered as purchase kind
"drop"). Nothing here knows Discord, Telegram or HTTP.
"""

from __future__ import annotations

from drops.announcement_posts import AnnouncementPosts, LiveAnnouncement, PostedMessage
from drops.claims import ClaimsUnavailable
from drops.countdown import countdown_text, format_duration
from drops.errors import (
    AlreadyPaid,
    BadDropInput,
    CannotCancel,
    CannotClose,
    DropCancelled,
    DropClosed,
    DropError,
    DropNotFound,
    DropNotOpen,
    EarlyAccessOnly,
    HoldExpired,
    HoldNotFound,
    LimitReached,
    NotEditable,
    NotEntitled,
    SoldOut,
)
from drops.inputs import parse_moment, parse_price
from drops.models import (
    Announcement,
    CheckoutLink,
    DropButton,
    DropInput,
    DropOptions,
    DropPhase,
    DropResult,
    DropStatus,
    DropView,
    EarlyAccess,
    EditDrop,
    HoldStatus,
    HoldView,
    Money,
    PaymentIssue,
    SaleView,
    WaitlistSpot,
    WaitlistStatus,
)
from drops.purchases import DropPurchases
from drops.schedule import DropTimers, arm_drop_timers, attach_drop_timers
from drops.service import DropService, DueReport

__all__ = [
    "AlreadyPaid",
    "Announcement",
    "AnnouncementPosts",
    "BadDropInput",
    "CannotCancel",
    "CannotClose",
    "CheckoutLink",
    "ClaimsUnavailable",
    "DropButton",
    "DropCancelled",
    "DropClosed",
    "DropError",
    "DropInput",
    "DropNotFound",
    "DropNotOpen",
    "DropOptions",
    "DropPhase",
    "DropPurchases",
    "DropResult",
    "DropService",
    "DropStatus",
    "DropTimers",
    "DropView",
    "DueReport",
    "EarlyAccess",
    "EarlyAccessOnly",
    "EditDrop",
    "HoldExpired",
    "HoldNotFound",
    "HoldStatus",
    "HoldView",
    "LimitReached",
    "LiveAnnouncement",
    "Money",
    "NotEditable",
    "NotEntitled",
    "PaymentIssue",
    "PostedMessage",
    "SaleView",
    "SoldOut",
    "WaitlistSpot",
    "WaitlistStatus",
    "arm_drop_timers",
    "attach_drop_timers",
    "countdown_text",
    "format_duration",
    "parse_moment",
    "parse_price",
]
