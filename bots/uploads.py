"""Files a person attaches to a command (a Telegram document, a Discord attachment), read only when needed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

__all__ = ["Upload", "UploadSlots"]


@dataclass(frozen=True)
class Upload:
    """One attached file: its name and size as the platform reports them, and how to fetch its bytes."""

    name: str
    size: int | None
    content_type: str | None
    read: Callable[[], Awaitable[bytes]] = field(repr=False, compare=False)


@dataclass(frozen=True)
class UploadSlots:
    """A command takes files: up to `count` attachment options on Discord; on Telegram, the document the command
    is the caption of."""

    count: int
    help: str
