"""The words of drop DMs, as outbox NOTIFY payloads: `{"template", "text", "buttons", "drop_id", ...}`.

`drop_id` (and `hold_id` where there is one) ride along so an adapter may add its own Claim/Pay button.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["drop_message"]

_TEXTS = {
    "drop_early_access": "Early access to “{title}” is open for you now ({price}), before everyone else.",
    "drop_reminder": "“{title}” opens at {opens} ({price}, {supply} available). Be ready!",
    "drop_open": "“{title}” is open now: {price}, {supply} available. First come, first served.",
    "drop_offer": "A unit of “{title}” came back and it is held for you until {until}. Pay {price} to keep it.",
    "drop_purchased": "You bought “{title}” for {price}. Thank you!{asset}",
    "drop_refund_needed": "Your payment for “{title}” arrived after your hold had ended and no unit was left. "
    "It will be refunded.",
    "drop_refunded": "Your purchase of “{title}” was refunded.",
    "drop_waitlist_closed": "“{title}” has ended; no unit came back for you this time.",
}


def _time(moment: datetime | None) -> str:
    return moment.strftime("%d %b %Y %H:%M UTC") if moment else "soon"


def drop_message(
    template: str,
    *,
    drop_id: int,
    title: str,
    price: str,
    supply: int | None = None,
    opens_at: datetime | None = None,
    until: datetime | None = None,
    asset: str | None = None,
    pay_url: str | None = None,
    hold_id: str | None = None,
) -> dict[str, Any]:
    text = _TEXTS[template].format(
        title=title,
        price=price,
        supply=supply,
        opens=_time(opens_at),
        until=_time(until),
        asset=f" Your item: {asset}" if asset else "",
    )
    buttons = [{"label": "Pay now", "url": pay_url}] if pay_url else []
    payload: dict[str, Any] = {"template": template, "text": text, "buttons": buttons, "drop_id": drop_id}
    if hold_id:
        payload["hold_id"] = hold_id
    return payload
