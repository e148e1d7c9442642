"""Timers are re-armed from the database: a restart during a scheduled drop misses nothing.

The scheduler is started paused, so no job runs on the wall clock; the test moves the ManualClock and runs
the armed jobs itself, as APScheduler would at their times.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, timedelta

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from drops import DropPhase, DropService, DropStatus, DropTimers, attach_drop_timers
from drops.schedule import SWEEP_JOB_ID
from storefront.app import App
from storefront.clock import ManualClock
from storefront.config import Settings
from storefront.members import find_member
from tests.drops.builders import a_drop
from tests.helpers import outbox_rows


@pytest.fixture
async def scheduler() -> AsyncIterator[AsyncIOScheduler]:
    timers = AsyncIOScheduler(timezone=UTC)
    timers.start(paused=True)
    yield timers
    if timers.running:
        timers.shutdown(wait=False)


def jobs_of(scheduler: AsyncIOScheduler) -> dict:
    return {job.id: job for job in scheduler.get_jobs()}


async def restarted(settings: Settings, clock: ManualClock) -> tuple[App, DropService, AsyncIOScheduler]:
    """A new process on the same database file: new app, new service, new scheduler, armed from the database."""
    app = App(settings, clock=clock)
    await app.migrate()
    service = DropService(app.db, clock, app.catalog)
    timers = AsyncIOScheduler(timezone=UTC)
    timers.start(paused=True)
    await attach_drop_timers(timers, service)
    return app, service, timers


async def test_timers_are_armed_for_every_moment_of_a_drop(app: App, clock: ManualClock, scheduler: AsyncIOScheduler):
    service = DropService(app.db, clock, app.catalog)
    await attach_drop_timers(scheduler, service)

    drop = await a_drop(service, early_access_tiers="creator", closes_in=timedelta(hours=3))

    jobs = jobs_of(scheduler)
    assert jobs[f"drop-{drop.id}-early"].next_run_time == drop.opens_at - timedelta(minutes=30)
    assert jobs[f"drop-{drop.id}-open"].next_run_time == drop.opens_at
    assert jobs[f"drop-{drop.id}-close"].next_run_time == drop.closes_at
    assert jobs[f"drop-{drop.id}-reminder-soon"].next_run_time == drop.opens_at - timedelta(minutes=15)
    assert SWEEP_JOB_ID in jobs
    assert all(job.misfire_grace_time is None and job.coalesce for job in jobs.values())


async def test_cancelling_a_drop_disarms_its_timers(app: App, clock: ManualClock, scheduler: AsyncIOScheduler):
    service = DropService(app.db, clock, app.catalog)
    await attach_drop_timers(scheduler, service)
    drop = await a_drop(service)

    await service.cancel(drop.id)

    assert [job_id for job_id in jobs_of(scheduler) if job_id.startswith(f"drop-{drop.id}-")] == []


async def test_restart_during_a_scheduled_drop_still_opens_and_closes_on_time(
    app: App, settings: Settings, clock: ManualClock, scheduler: AsyncIOScheduler
):
    first = DropService(app.db, clock, app.catalog)
    await attach_drop_timers(scheduler, first)
    drop = await a_drop(first, supply=2, closes_in=timedelta(hours=3))
    await first.notify_me(drop.id, "telegram:5")
    scheduler.shutdown(wait=False)  # the process dies; only the database remains

    clock.advance(timedelta(minutes=20))
    second_app, second, timers = await restarted(settings, clock)
    try:
        jobs = jobs_of(timers)
        assert jobs[f"drop-{drop.id}-open"].next_run_time == drop.opens_at
        assert jobs[f"drop-{drop.id}-close"].next_run_time == drop.closes_at

        for job_id in (f"drop-{drop.id}-reminder-soon", f"drop-{drop.id}-open"):
            clock.set(jobs[job_id].next_run_time)
            await jobs[job_id].func()
        opened = await second.get(drop.id)
        assert (opened.status, opened.phase) == (DropStatus.OPEN, DropPhase.OPEN)
        assert (await second.claim(drop.id, "telegram:6")).identity == "telegram:6"
        member = await member_id(second_app, "telegram:5")
        assert [row["key"] for row in await outbox_rows(second_app, "notify")] == [
            f"drop:{drop.id}:member:{member}:reminder:soon",
            f"drop:{drop.id}:member:{member}:reminder:open",
        ]

        clock.set(drop.closes_at)
        await jobs[f"drop-{drop.id}-close"].func()
        closed = await second.get(drop.id)
        assert (closed.phase, closed.close_reason, closed.closed_at) == (
            DropPhase.CLOSED,
            "closing_time",
            drop.closes_at,
        )
    finally:
        timers.shutdown(wait=False)
        await second_app.close()


async def member_id(app: App, identity: str) -> int | None:
    async with app.db.read() as conn:
        return await find_member(conn, identity)


async def test_a_process_down_across_the_opening_catches_up_when_it_starts(
    app: App, settings: Settings, clock: ManualClock
):
    first = DropService(app.db, clock, app.catalog)
    drop = await a_drop(first, supply=2, closes_in=timedelta(hours=3))
    await first.notify_me(drop.id, "telegram:5")

    clock.set(drop.opens_at + timedelta(minutes=5))  # down from before the reminder until after the opening
    second_app, second, timers = await restarted(settings, clock)
    try:
        shown = await second.get(drop.id)
        assert (shown.status, shown.phase) == (DropStatus.OPEN, DropPhase.OPEN)
        templates = [row["payload"]["template"] for row in await outbox_rows(second_app, "notify")]
        assert templates == ["drop_open"]  # the "opens soon" reminder is stale and skipped, not sent late
        assert f"drop-{drop.id}-open" not in jobs_of(timers)
        assert f"drop-{drop.id}-close" in jobs_of(timers)
    finally:
        timers.shutdown(wait=False)
        await second_app.close()


async def test_a_restart_past_closing_time_closes_the_drop_at_start_up(
    app: App, settings: Settings, clock: ManualClock
):
    first = DropService(app.db, clock, app.catalog)
    drop = await a_drop(first, supply=2, closes_in=timedelta(hours=3))

    clock.set(drop.closes_at + timedelta(hours=1))
    second_app, second, timers = await restarted(settings, clock)
    try:
        assert (await second.get(drop.id)).status is DropStatus.CLOSED
    finally:
        timers.shutdown(wait=False)
        await second_app.close()


async def test_every_sweep_is_harmless_when_run_again(app: App, clock: ManualClock):
    service = DropService(app.db, clock, app.catalog)
    drop = await a_drop(service, supply=1)
    await service.notify_me(drop.id, "telegram:5")
    clock.set(drop.opens_at)

    first = await service.run_due()
    again = await service.run_due()

    assert first.opened == [drop.id] and first.reminders_queued == 1
    assert (again.opened, again.closed, again.holds_released, again.reminders_queued) == ([], [], 0, 0)
    assert len(await outbox_rows(app, "notify")) == 1


async def test_the_sweep_arms_drops_another_process_created(
    app: App, settings: Settings, clock: ManualClock, scheduler: AsyncIOScheduler
):
    leader = DropService(app.db, clock, app.catalog)
    await attach_drop_timers(scheduler, leader)
    other_app = App(settings, clock=clock)
    try:
        other = DropService(other_app.db, clock, other_app.catalog)  # a bot process: no scheduler of its own
        drop = await a_drop(other, closes_in=timedelta(hours=3))
        assert f"drop-{drop.id}-open" not in jobs_of(scheduler)

        await jobs_of(scheduler)[SWEEP_JOB_ID].func(*jobs_of(scheduler)[SWEEP_JOB_ID].args)

        assert jobs_of(scheduler)[f"drop-{drop.id}-open"].next_run_time == drop.opens_at
    finally:
        await other_app.close()


async def test_a_deposed_leaders_scheduler_is_left_alone(app: App, clock: ManualClock):
    service = DropService(app.db, clock, app.catalog)
    timers = AsyncIOScheduler(timezone=UTC)
    timers.start(paused=True)
    drop_timers = DropTimers(service)
    await drop_timers(timers)
    timers.shutdown(wait=False)  # leadership lost

    await a_drop(service)  # re-arming is asked for; nothing is added to the stopped scheduler

    assert timers.get_jobs() == []
