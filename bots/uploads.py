"""Files a person attaches to a command (a Telegram document, a Discord attachment), read only when needed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from bots.rendering import file_size

__all__ = ["MAX_UPLOAD_BYTES", "Upload", "UploadSlots", "read_uploads"]

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # the most a Telegram bot may download; bigger files go through the CLI


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


async def read_uploads(uploads: Sequence[Upload], *, elsewhere: str = "") -> list[tuple[Upload, bytes]] | str:
    """Each attached file with its bytes, or the one line saying which is over MAX_UPLOAD_BYTES (the sizes the
    platform reports are checked before anything is downloaded); `elsewhere` says how to add such a file."""
    for upload in uploads:
        if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
            return _too_big(upload.name, upload.size, elsewhere)
    read = []
    for upload in uploads:
        data = await upload.read()
        if len(data) > MAX_UPLOAD_BYTES:
            return _too_big(upload.name, len(data), elsewhere)
        read.append((upload, data))
    return read


def _too_big(name: str, size: int, elsewhere: str) -> str:
    refusal = f"{name} is {file_size(size)}, more than chat bots can take ({file_size(MAX_UPLOAD_BYTES)})"
    return f"{refusal}; {elsewhere}" if elsewhere else f"{refusal}."
