"""What can go wrong with a drop, each with data and a message a fan or creator can read as it is."""

from __future__ import annotations

from datetime import datetime

from storefront.errors import StorefrontError

__all__ = [
    "AlreadyPaid",
    "BadDropInput",
    "CannotCancel",
    "CannotClose",
    "DropCancelled",
    "DropClosed",
    "DropError",
    "DropNotFound",
    "DropNotOpen",
    "EarlyAccessOnly",
    "HoldExpired",
    "HoldNotFound",
    "LimitReached",
    "NotEditable",
    "NotEntitled",
    "SoldOut",
]


def _when(moment: datetime) -> str:
    return moment.strftime("%d %b %Y %H:%M UTC")


class DropError(StorefrontError):
    """Base of every drop error; `str(error)` is the one line to show."""


class BadDropInput(DropError):
    """A creator's input was refused; nothing was changed."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field.replace('_', ' ')}: {problem}")


class DropNotFound(DropError):
    def __init__(self, drop_id: int | str) -> None:
        self.drop_id = drop_id
        super().__init__(f"There is no drop #{drop_id}.")


class NotEditable(DropError):
    """Edits are allowed only before the drop opens (early access counts as open)."""

    def __init__(self, title: str, phase: str) -> None:
        self.title = title
        self.phase = phase
        super().__init__(f"“{title}” can no longer be changed: it is {phase.replace('_', ' ')}.")


class DropNotOpen(DropError):
    def __init__(self, title: str, opens_at: datetime) -> None:
        self.title = title
        self.opens_at = opens_at
        super().__init__(f"“{title}” is not open yet: it opens {_when(opens_at)}.")


class NotEntitled(DropError):
    """The person's current membership does not allow this claim now."""


class EarlyAccessOnly(NotEntitled):
    def __init__(self, title: str, tier_names: list[str], opens_at: datetime) -> None:
        self.title = title
        self.tier_names = tier_names
        self.opens_at = opens_at
        tiers = ", ".join(tier_names)
        super().__init__(f"“{title}” is in early access for {tiers} members; it opens to everyone {_when(opens_at)}.")


class SoldOut(DropError):
    def __init__(self, title: str, next_release_at: datetime | None = None) -> None:
        self.title = title
        self.next_release_at = next_release_at
        more = (
            " Units held in checkout may come back: join the waitlist to get the next one." if next_release_at else ""
        )
        super().__init__(f"“{title}” is sold out.{more}")


class LimitReached(DropError):
    def __init__(self, title: str, limit: int, hold_ids: list[str]) -> None:
        self.title = title
        self.limit = limit
        self.hold_ids = hold_ids
        unit = "unit" if limit == 1 else "units"
        super().__init__(f"You already have {limit} {unit} of “{title}”, the most one person can get.")


class DropClosed(DropError):
    def __init__(self, title: str) -> None:
        self.title = title
        super().__init__(f"“{title}” has closed.")


class DropCancelled(DropClosed):
    def __init__(self, title: str) -> None:
        self.title = title
        DropError.__init__(self, f"“{title}” was cancelled.")


class HoldNotFound(DropError):
    def __init__(self, hold_id: str) -> None:
        self.hold_id = hold_id
        super().__init__("That reservation does not exist.")


class HoldExpired(DropError):
    def __init__(self, title: str, expired_at: datetime) -> None:
        self.title = title
        self.expired_at = expired_at
        super().__init__(f"Your hold on “{title}” ended at {_when(expired_at)}; claim again if units are left.")


class AlreadyPaid(DropError):
    def __init__(self, title: str) -> None:
        self.title = title
        super().__init__(f"You have already paid for this unit of “{title}”.")


class CannotCancel(DropError):
    def __init__(self, title: str, reason: str) -> None:
        self.title = title
        self.reason = reason
        super().__init__(f"“{title}” cannot be cancelled: {reason}.")


class CannotClose(DropError):
    def __init__(self, title: str, reason: str) -> None:
        self.title = title
        self.reason = reason
        super().__init__(f"“{title}” cannot be closed: {reason}.")
