"""Plain-text helpers shared by the domains' messages and the chat replies."""

from __future__ import annotations

__all__ = ["shortened"]


def shortened(text: str, limit: int = 60) -> str:
    """`text` cut to `limit` characters, the last one "…" when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
