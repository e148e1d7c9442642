"""Computing a churn report: one streamed read of the billing history, one fold per member, off the event loop."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storefront.catalog import Catalog
from storefront.churn._history import HistoryGrouper, MemberHistory, stream_observation_rows
from storefront.churn._months import MonthPlan
from storefront.churn._states import MemberAt, TierLookup, member_states
from storefront.churn._tally import Tally
from storefront.churn.report import AtRiskMember, ChurnReport
from storefront.clock import Clock
from storefront.db import Database, in_chunks
from storefront.db.tables import identities
from storefront.errors import StorefrontError

if TYPE_CHECKING:
    from storefront.app import App

__all__ = ["MAX_MONTHS", "ChurnReports", "MonthsOutOfRange", "churn_report", "compute_churn"]

MAX_MONTHS = 60


class MonthsOutOfRange(StorefrontError):
    def __init__(self, months: int) -> None:
        self.months = months
        super().__init__(f"a churn report covers 1 to {MAX_MONTHS} months, not {months}")


class _Fold:
    """Feeds row batches to per-member folds; runs in a worker thread, one batch at a time."""

    def __init__(self, plan: MonthPlan, tiers: TierLookup, grace: timedelta, reuse: bool) -> None:
        self.plan = plan
        self.tiers = tiers
        self.grace = grace
        self.reuse = reuse
        self.grouper = HistoryGrouper()
        self.tally = Tally(plan)

    def _count(self, histories: list[MemberHistory]) -> None:
        boundaries = self.plan.boundaries
        for history in histories:
            paid_before, states = member_states(
                history, boundaries, self.tiers, self.grace, reuse_stable_states=self.reuse
            )
            self.tally.add(history.member_id, paid_before, states)

    def feed(self, rows: list[object]) -> None:
        self._count(self.grouper.feed(rows))

    def finish(self) -> None:
        self._count(self.grouper.finish())


async def compute_churn(
    db: Database,
    catalog: Catalog,
    *,
    now: datetime,
    grace: timedelta,
    months: int = 12,
    reuse_stable_states: bool = True,
) -> ChurnReport:
    """The churn report over the last `months` calendar months up to `now` (definitions in `report`)."""
    if not 1 <= months <= MAX_MONTHS:
        raise MonthsOutOfRange(months)
    plan = MonthPlan.ending_at(now, months)
    tiers = TierLookup(catalog)
    fold = _Fold(plan, tiers, grace, reuse_stable_states)
    async with db.read() as conn:
        async for rows in stream_observation_rows(conn, until=plan.now):
            await asyncio.to_thread(fold.feed, list(rows))
        await asyncio.to_thread(fold.finish)
        at_risk = await _at_risk(conn, fold.tally.at_risk)
    return fold.tally.report(tiers.order(fold.tally.tiers_seen), at_risk)


async def churn_report(app: App, months: int = 12) -> ChurnReport:
    """The report for a running App: its database, catalog, clock and grace period."""
    return await compute_churn(app.db, app.catalog, now=app.clock.now(), grace=app.memberships.grace, months=months)


class ChurnReports:
    """Reports by number of months, each recomputed at most once per `max_age`.

    A large membership takes a while to fold; the admin page and `/churn` share one computation, and
    concurrent requests for the same report wait for it instead of starting their own.
    """

    def __init__(
        self, db: Database, catalog: Catalog, clock: Clock, grace: timedelta, max_age: timedelta = timedelta(minutes=5)
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.clock = clock
        self.grace = grace
        self.max_age = max_age
        self._reports: dict[int, ChurnReport] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def get(self, months: int = 12) -> ChurnReport:
        if not 1 <= months <= MAX_MONTHS:
            raise MonthsOutOfRange(months)
        lock = self._locks.setdefault(months, asyncio.Lock())
        async with lock:
            report = self._reports.get(months)
            if report is None or self.clock.now() - report.generated_at >= self.max_age:
                report = await compute_churn(
                    self.db, self.catalog, now=self.clock.now(), grace=self.grace, months=months
                )
                self._reports[months] = report
            return report


async def _at_risk(conn: AsyncConnection, found: list[tuple[int, MemberAt]]) -> list[AtRiskMember]:
    names: dict[int, list[str]] = {}
    member_ids = [member_id for member_id, _ in found]
    for chunk in in_chunks(member_ids):
        rows = await conn.execute(
            sa.select(identities.c.member_id, identities.c.identity)
            .where(identities.c.member_id.in_(chunk))
            .order_by(identities.c.member_id, identities.c.identity)
        )
        for member_id, identity in rows:
            names.setdefault(member_id, []).append(identity)
    for found_names in names.values():
        found_names.sort(key=lambda identity: (identity.startswith("stripe:"), identity))  # chat identities first
    members = []
    for member_id, state in found:
        best = state.paying[0].membership
        until = max((sub.membership.access_until for sub in state.paying if sub.membership.access_until), default=None)
        members.append(
            AtRiskMember(
                member_id=member_id,
                identities=names.get(member_id, []),
                tier=state.paying[0].tier,
                status=best.status.value,
                until=until,
                mrr=state.mrr,
                cancellation_feedback=best.cancellation_feedback,
                cancellation_comment=best.cancellation_comment,
            )
        )
    far = datetime.max.replace(tzinfo=None)
    members.sort(key=lambda m: (m.until.replace(tzinfo=None) if m.until else far, m.member_id))
    return members
