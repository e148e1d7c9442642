"""Platform-neutral replies (text, buttons, files) and how they are written for Telegram (HTML) and Discord."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from storefront.money import format_amount

__all__ = [
    "BUTTON_PREFIX",
    "DISCORD_BUTTONS_PER_ROW",
    "DISCORD_ROWS",
    "DISCORD_TEXT_LIMIT",
    "TELEGRAM_TEXT_LIMIT",
    "Button",
    "Outcome",
    "Reply",
    "ReplyFile",
    "button_rows",
    "day",
    "discord_markdown",
    "file_size",
    "minute",
    "money",
    "plural",
    "telegram_html",
]

# What marks a command button on both platforms: Telegram callback data / Discord custom id "sf:<command line>".
BUTTON_PREFIX = "sf:"

_CURRENCY_SIGNS = {"usd": "$", "eur": "€", "gbp": "£"}

# What one message may hold: Telegram counts the text after HTML parsing; Discord counts the Markdown.
TELEGRAM_TEXT_LIMIT = 4096
DISCORD_TEXT_LIMIT = 2000
DISCORD_ROWS = 5
DISCORD_BUTTONS_PER_ROW = 5
_CUT = "…"


class Outcome(StrEnum):
    OK = "ok"
    REFUSED = "refused"  # the caller may not run this command
    INVALID = "invalid"  # bad arguments or a domain refusal: nothing changed
    FAILED = "failed"  # our side or Stripe failed


@dataclass(frozen=True)
class Button:
    """A link (`url`) or a command line run for whoever presses it (`command`, e.g. "subscribe fan annual")."""

    label: str
    url: str | None = None
    command: str | None = None

    def __post_init__(self) -> None:
        if (self.url is None) == (self.command is None):
            raise ValueError("a button has either a url or a command")


@dataclass(frozen=True)
class ReplyFile:
    """A file sent with a reply: an image is shown as a photo on Telegram, any file is attached on Discord."""

    name: str
    data: bytes = field(repr=False)
    image: bool = False


@dataclass(frozen=True)
class Reply:
    """What a command answers: an optional bold title, plain-text lines, rows of buttons, files sent after it."""

    lines: tuple[str, ...]
    title: str | None = None
    buttons: tuple[tuple[Button, ...], ...] = ()
    outcome: Outcome = Outcome.OK
    files: tuple[ReplyFile, ...] = ()

    @classmethod
    def text(
        cls,
        *lines: str,
        title: str | None = None,
        buttons: tuple[tuple[Button, ...], ...] = (),
        files: tuple[ReplyFile, ...] = (),
    ) -> Reply:
        return cls(tuple(lines), title, buttons, files=files)

    @classmethod
    def problem(cls, line: str, outcome: Outcome = Outcome.INVALID) -> Reply:
        """One clear line; nothing changed."""
        return cls((line,), outcome=outcome)

    @property
    def plain(self) -> str:
        """The reply as plain text, as a person reads it (tests and logs)."""
        return "\n".join([*([self.title] if self.title else []), *self.lines])


def money(minor: int, currency: str) -> str:
    sign = _CURRENCY_SIGNS.get(currency.lower())
    amount = format_amount(minor, currency)
    return f"{sign}{amount}" if sign else f"{amount} {currency.upper()}"


def day(moment: datetime | None) -> str:
    return moment.strftime("%d %b %Y") if moment else "-"


def minute(moment: datetime) -> str:
    """A moment as people read it in UTC: `01 Dec 2026 15:00 UTC`."""
    return f"{moment.astimezone(UTC):%d %b %Y %H:%M} UTC"


def plural(number: int, thing: str) -> str:
    """`1 file`, `3 files`."""
    return f"{number} {thing}" + ("" if number == 1 else "s")


def file_size(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def button_rows(buttons: Sequence[Button], per_row: int = 2) -> tuple[tuple[Button, ...], ...]:
    """Lay buttons out `per_row` to a row (Discord takes at most 5 to a row and 5 rows)."""
    per_row = max(1, min(per_row, DISCORD_BUTTONS_PER_ROW))
    return tuple(tuple(buttons[start : start + per_row]) for start in range(0, len(buttons), per_row))


def _fit(lines: list[str], limit: int, length: Callable[[str], int]) -> list[str]:
    """Whole lines up to `limit` characters, then "…": a reply that is too long loses its tail, not everything."""
    if length("\n".join(lines)) <= limit:
        return lines
    kept: list[str] = []
    for line in lines:
        if length("\n".join([*kept, line, _CUT])) > limit:
            break
        kept.append(line)
    return [*kept, _CUT]


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def telegram_html(reply: Reply) -> str:
    title = [reply.title] if reply.title else []
    lines = _fit([*title, *reply.lines], TELEGRAM_TEXT_LIMIT, _utf16_length)[len(title) :]
    body = "\n".join(html.escape(line, quote=False) for line in lines)
    if reply.title:
        return f"<b>{html.escape(reply.title, quote=False)}</b>" + (f"\n{body}" if body else "")
    return body


_MARKDOWN_SPECIAL = re.compile(r"([\\*_~`|])")
_LINE_START = re.compile(r"^(\s*)([>#-])")


def _escape_markdown(text: str) -> str:
    return _LINE_START.sub(r"\1\\\2", _MARKDOWN_SPECIAL.sub(r"\\\1", text))


def discord_markdown(reply: Reply) -> str:
    lines = [f"**{_escape_markdown(reply.title)}**"] if reply.title else []
    lines += [_escape_markdown(line) for line in reply.lines]
    return "\n".join(_fit(lines, DISCORD_TEXT_LIMIT, len))
