"""The countdown line of an announcement: a pure function of the drop (as read) and the time."""

from __future__ import annotations

from datetime import datetime, timedelta

from drops.models import DropPhase, DropView
from drops.supply import UnitCounts, derive_phase

__all__ = ["countdown_text", "format_duration"]


def format_duration(span: timedelta) -> str:
    """`2 d 3 h`, `3 h 05 min`, `12 min`, `45 s` (rounded up, so a countdown never shows 0 before the moment)."""
    seconds = max(0, int(-(-span.total_seconds() // 1)))
    if seconds < 60:
        return f"{seconds} s"
    minutes = -(-seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _at(moment: datetime) -> str:
    return moment.strftime("%a %d %b %H:%M UTC")


def countdown_text(drop: DropView, now: datetime) -> str:
    """One line for the announcement post at `now` (counts are those of the view; times move with `now`)."""
    counts = UnitCounts(drop.supply, drop.sold, drop.held, drop.next_release_at)
    phase = derive_phase(drop, counts, now)
    tiers = ", ".join(drop.early_access_tier_names)
    closing = f"closes in {format_duration(drop.closes_at - now)}" if drop.closes_at else "no closing time"
    if phase is DropPhase.DRAFT:
        return "Draft: not announced yet."
    if phase is DropPhase.CANCELLED:
        return "Cancelled."
    if phase is DropPhase.CLOSED:
        return f"Closed: {drop.sold} of {drop.supply} sold."
    if phase is DropPhase.SCHEDULED:
        line = f"Opens in {format_duration(drop.opens_at - now)} ({_at(drop.opens_at)})."
        if tiers:
            line += f" Early access for {tiers} from {_at(drop.early_opens_at)}."
        return line
    if phase is DropPhase.SOLD_OUT:
        if drop.held and drop.next_release_at:
            return (
                f"Sold out: all {drop.supply} are taken, {drop.held} still in checkout. "
                "Join the waitlist for a unit that comes back."
            )
        return f"Sold out: all {drop.supply} are taken. Join the waitlist for a unit that comes back."
    left = f"{drop.available} of {drop.supply} left"
    if phase is DropPhase.EARLY_ACCESS:
        return f"Early access for {tiers}: {left}. Opens to everyone in {format_duration(drop.opens_at - now)}."
    return f"Open now: {left}, {closing}."
