"""The months a churn report covers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from storefront.months import month_of, month_start

__all__ = ["MonthPlan"]


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
        return [month_of(start) for start in self.starts]

    @property
    def boundaries(self) -> tuple[datetime, ...]:
        return (*self.starts, self.now)

    @property
    def window_start(self) -> datetime:
        return self.starts[0]
