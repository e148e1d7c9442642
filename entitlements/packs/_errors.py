"""What the pack operations refuse, each with the message a creator or member is shown."""

from __future__ import annotations

from datetime import datetime

from storefront.errors import StorefrontError


class InvalidMonth(StorefrontError):
    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(f"{text!r} is not a month; write it as YYYY-MM, e.g. 2026-12")


class UnknownPack(StorefrontError):
    def __init__(self, month: str) -> None:
        self.month = month
        super().__init__(f"There is no pack for {month} yet; add one with /pack add.")


class EmptyPack(StorefrontError):
    def __init__(self, month: str) -> None:
        self.month = month
        super().__init__(f"No files given for the {month} pack.")


class PackAlreadyDelivered(StorefrontError):
    def __init__(self, month: str) -> None:
        self.month = month
        super().__init__(f"The {month} pack has already gone out to members; it can no longer be changed.")


class PackNotDue(StorefrontError):
    def __init__(self, month: str, deliver_at: datetime) -> None:
        self.month = month
        self.deliver_at = deliver_at
        super().__init__(f"The {month} pack is scheduled for {deliver_at:%d %b %Y %H:%M UTC}; it goes out then.")


class AssetConflict(StorefrontError):
    def __init__(self, month: str, filename: str) -> None:
        self.month = month
        self.filename = filename
        super().__init__(f"The {month} pack already has a different file named {filename!r}; rename the new one.")


class NoPackAccess(StorefrontError):
    def __init__(self) -> None:
        super().__init__("Packs come with a membership that includes downloads: see /tiers, then /subscribe.")
