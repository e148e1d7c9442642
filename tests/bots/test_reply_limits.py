"""Replies fit one message on each platform: a reply that is too long loses whole lines at its end, not all of it."""

from __future__ import annotations

from bots.rendering import (
    DISCORD_TEXT_LIMIT,
    TELEGRAM_TEXT_LIMIT,
    Button,
    Reply,
    button_rows,
    discord_markdown,
    telegram_html,
)

LONG = Reply.text(*(f"line {number}: {'x' * 60}" for number in range(200)), title="A long list")


def test_a_reply_too_long_for_discord_keeps_its_title_and_whole_lines_then_an_ellipsis() -> None:
    text = discord_markdown(LONG)

    assert len(text) <= DISCORD_TEXT_LIMIT
    lines = text.split("\n")
    assert lines[0] == "**A long list**"
    assert lines[1] == f"line 0: {'x' * 60}"
    assert lines[-2] == f"line {len(lines) - 3}: {'x' * 60}"
    assert lines[-1] == "…"


def test_a_reply_too_long_for_telegram_is_cut_by_what_telegram_counts() -> None:
    emoji = Reply.text(*("🎨" * 100 for _ in range(30)), title="Palette")  # each emoji is 2 UTF-16 code units

    text = telegram_html(emoji)

    plain = text.replace("<b>", "").replace("</b>", "")
    assert len(plain.encode("utf-16-le")) // 2 <= TELEGRAM_TEXT_LIMIT
    assert plain.startswith("Palette\n" + "🎨" * 100)
    assert plain.endswith("\n…")


def test_a_reply_that_fits_is_unchanged() -> None:
    reply = Reply.text("one", "two", title="Short")

    assert discord_markdown(reply) == "**Short**\none\ntwo"
    assert telegram_html(reply) == "<b>Short</b>\none\ntwo"


def test_buttons_are_laid_out_within_discords_five_to_a_row() -> None:
    buttons = [Button(f"b{number}", url=f"https://example.com/{number}") for number in range(12)]

    assert [len(row) for row in button_rows(buttons, per_row=2)] == [2, 2, 2, 2, 2, 2]
    assert [len(row) for row in button_rows(buttons, per_row=9)] == [5, 5, 2]
