"""Platform-neutral replies (text, buttons) and how they are written for Telegram (HTML) and Discord (Markdown)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = [
    "BUTTON_PREFIX",
    "Button",
    "Outcome",
    "Reply",
    "day",
    "discord_markdown",
    "money",
    "telegram_html",
]

# What marks a command button on both platforms: Telegram callback data / Discord custom id "sf:<command line>".
BUTTON_PREFIX = "sf:"

_CURRENCY_SIGNS = {"usd": "$", "eur": "€", "gbp": "£"}


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
class Reply:
    """What a command answers: an optional bold title, plain-text lines, rows of buttons."""

    lines: tuple[str, ...]
    title: str | None = None
    buttons: tuple[tuple[Button, ...], ...] = ()
    outcome: Outcome = Outcome.OK

    @classmethod
    def text(cls, *lines: str, title: str | None = None, buttons: tuple[tuple[Button, ...], ...] = ()) -> Reply:
        return cls(tuple(lines), title, buttons)

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
    amount = f"{minor / 100:,.2f}"
    return f"{sign}{amount}" if sign else f"{amount} {currency.upper()}"


def day(moment: datetime | None) -> str:
    return moment.strftime("%d %b %Y") if moment else "-"


def telegram_html(reply: Reply) -> str:
    body = "\n".join(html.escape(line, quote=False) for line in reply.lines)
    if reply.title:
        return f"<b>{html.escape(reply.title, quote=False)}</b>" + (f"\n{body}" if body else "")
    return body


_MARKDOWN_SPECIAL = re.compile(r"([\\*_~`|])")
_LINE_START = re.compile(r"^(\s*)([>#-])")


def _escape_markdown(text: str) -> str:
    return _LINE_START.sub(r"\1\\\2", _MARKDOWN_SPECIAL.sub(r"\\\1", text))


def discord_markdown(reply: Reply) -> str:
    body = "\n".join(_escape_markdown(line) for line in reply.lines)
    if reply.title:
        return f"**{_escape_markdown(reply.title)}**" + (f"\n{body}" if body else "")
    return body
