"""Reading the billing history: every stored observation, streamed once, grouped by member and subscription."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from entitlements import Observation, ObservationKind
from storefront.db.tables import billing_events

__all__ = ["HistoryGrouper", "MemberHistory", "stream_observation_rows"]

_KINDS = {kind.value: kind for kind in ObservationKind}


class _Raw(sa.types.TypeDecorator[Any]):
    """The column's value as the driver returns it: text on SQLite, native values on PostgreSQL.

    Parsing dates and JSON ourselves (and JSON only when it is read) is what keeps a 100k-member
    history in seconds; SQLAlchemy's per-row processors would parse every payment's JSON too.
    """

    impl = sa.String
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return value


class _LazyJson(Mapping[str, Any]):
    """A JSON object parsed on first access: a payment observation's data is stored but seldom read."""

    __slots__ = ("_parsed", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._parsed: dict[str, Any] | None = None

    def _data(self) -> dict[str, Any]:
        if self._parsed is None:
            self._parsed = json.loads(self._text)
        return self._parsed

    def __getitem__(self, key: str) -> Any:
        return self._data()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._data().get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())


def _created(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


# Payments' data is kept as text until something reads it; every other kind is read by every fold.
_READ_LATER = frozenset({ObservationKind.PAYMENT_SUCCEEDED, ObservationKind.PAYMENT_FAILED})


def _data(kind: ObservationKind, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, str | bytes):
        return value
    return _LazyJson(value) if kind in _READ_LATER else json.loads(value)


@dataclass
class MemberHistory:
    """Everything Stripe said about one member's subscriptions, each list sorted by (created, event id)."""

    member_id: int
    subscriptions: dict[str, list[Observation]] = field(default_factory=dict)


async def stream_observation_rows(
    conn: AsyncConnection, *, until: datetime, batch: int = 20_000
) -> AsyncIterator[Sequence[Any]]:
    """All observations created at or before `until`, ordered by member, subscription, time; in batches."""
    query = (
        sa.select(
            billing_events.c.member_id,
            billing_events.c.subscription_id,
            billing_events.c.event_id,
            billing_events.c.kind,
            sa.type_coerce(billing_events.c.created, _Raw),
            sa.type_coerce(billing_events.c.data, _Raw),
        )
        .where(billing_events.c.created <= until)
        .order_by(
            billing_events.c.member_id,
            billing_events.c.subscription_id,
            billing_events.c.created,
            billing_events.c.event_id,
        )
        .execution_options(yield_per=batch)
    )
    result = await conn.stream(query)
    async for rows in result.partitions():
        yield rows


class HistoryGrouper:
    """Turns row batches into complete MemberHistory values; the last member waits for the next batch."""

    def __init__(self) -> None:
        self._current: MemberHistory | None = None

    def feed(self, rows: Sequence[Any]) -> list[MemberHistory]:
        complete: list[MemberHistory] = []
        current = self._current
        for member_id, subscription_id, event_id, kind, created, data in rows:
            if current is None or current.member_id != member_id:
                if current is not None:
                    complete.append(current)
                current = MemberHistory(member_id)
            observations = current.subscriptions.get(subscription_id)
            if observations is None:
                observations = current.subscriptions[subscription_id] = []
            seen_kind = _KINDS[kind]
            observations.append(Observation(event_id, seen_kind, _created(created), _data(seen_kind, data)))
        self._current = current
        return complete

    def finish(self) -> list[MemberHistory]:
        last, self._current = self._current, None
        return [last] if last is not None else []
