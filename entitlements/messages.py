"""The words of the messages sent to members: written once, platform-neutral, rendered by the bots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["member_message"]

_TEXTS = {
    "welcome": "Welcome to {tier_name}! Your membership is active; your roles and channel access are on their way.",
    "access_ended": "Your {tier_name} membership has ended, and with it your member access. "
    "You can subscribe again any time with /subscribe.",
    "payment_failed": "Your last payment for {tier_name} did not go through. You keep access until {grace_until}; "
    "update your card to stay a member.",
    "grace_ending": "Reminder: your {tier_name} access ends on {grace_until} unless the payment goes through.",
    "trial_ending": "Your free trial of {tier_name} ends on {trial_end}. Nothing to do if you want to stay.",
}

_PORTAL_BUTTON = {"label": "Update payment method", "action": "portal"}


def _day(moment: datetime | None) -> str:
    return moment.strftime("%d %b %Y %H:%M UTC") if moment else "soon"


def member_message(
    template: str,
    *,
    tier_name: str,
    grace_until: datetime | None = None,
    trial_end: datetime | None = None,
) -> dict[str, Any]:
    """The outbox payload of a message: its template, its text, and its buttons.

    Buttons are `{"label", "url"}` or `{"label", "action": "portal"}` (a billing-portal link made at send time,
    because portal links expire).
    """
    text = _TEXTS[template].format(tier_name=tier_name, grace_until=_day(grace_until), trial_end=_day(trial_end))
    buttons = [_PORTAL_BUTTON] if template in ("payment_failed", "grace_ending") else []
    return {"template": template, "text": text, "buttons": buttons}
