"""The dispatch table: Stripe event type -> the one handler for it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncConnection

from webhooks.stripe_payloads import StripeEvent

__all__ = ["Dispatcher", "Handler", "Outcome"]


class Outcome(StrEnum):
    PROCESSED = "processed"
    IGNORED = "ignored"


Handler = Callable[[AsyncConnection, StripeEvent, datetime], Awaitable[Outcome]]


class Dispatcher:
    def __init__(self) -> None:
        self._table: dict[str, Handler] = {}

    def register(self, event_type: str, handler: Handler) -> None:
        if event_type in self._table:
            raise ValueError(f"{event_type} already has a handler")
        self._table[event_type] = handler

    def handler_for(self, event_type: str) -> Handler | None:
        return self._table.get(event_type)

    @property
    def event_types(self) -> list[str]:
        return sorted(self._table)
