"""Calendar months in UTC: labels and the instants that bound them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["MonthPlan", "month_label", "month_start", "month_starts_between", "next_month_start"]


def month_start(moment: datetime) -> datetime:
    """00:00 UTC on the first day of the month holding `moment`."""
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month_start(moment: datetime) -> datetime:
    start = month_start(moment)
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


def month_label(start: datetime) -> str:
    return f"{start.year:04d}-{start.month:02d}"


def month_starts_between(after: datetime, before: datetime) -> Iterator[datetime]:
    """Every month start strictly after `after` and strictly before `before`, in order."""
    start = next_month_start(after)
    while start < before:
        yield start
        start = next_month_start(start)


@dataclass(frozen=True)
class MonthPlan:
    """The window of a report: `months` calendar months, the last one being the month of `now` (to date).

    `boundaries[0]` is the start of the first month (the end of the month before the window);
    `boundaries[i]` is the end of month i-1, i.e. the start of month i; the last boundary is `now`.
    """

    now: datetime
    starts: tuple[datetime, ...]

    @classmethod
    def ending_at(cls, now: datetime, months: int) -> MonthPlan:
        if months < 1:
            raise ValueError("a churn report covers at least one month")
        starts = []
        start = month_start(now)
        for _ in range(months):
            starts.append(start)
            start = month_start(start - timedelta(days=1))
        return cls(now=now.astimezone(UTC), starts=tuple(reversed(starts)))

    @property
    def labels(self) -> list[str]:
        return [month_label(start) for start in self.starts]

    @property
    def boundaries(self) -> tuple[datetime, ...]:
        return (*self.starts, self.now)

    @property
    def window_start(self) -> datetime:
        return self.starts[0]
