"""The drop timers on APScheduler (AsyncIOScheduler, in process), armed only from the database.

Every date job runs the same idempotent pass (`DropService.run_due`), so a job that fires late, twice or not
at all changes nothing about correctness: exact-time jobs only make openings, closings and reminders punctual.
The periodic sweep re-arms from the database each time it runs (so drops created by another process get their
timers within one sweep), and `arm_drop_timers` first runs the pass, so whatever fell due while the process was
down happens at start-up.
"""

from __future__ import annotations

from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler

from drops.service import DropService

__all__ = ["SWEEP_JOB_ID", "DropTimers", "arm_drop_timers", "attach_drop_timers"]

SWEEP_JOB_ID = "drop-sweep"
_JOB_DEFAULTS = {"replace_existing": True, "misfire_grace_time": None, "coalesce": True, "max_instances": 1}


async def arm_drop_timers(scheduler: BaseScheduler, service: DropService, *, sweep_seconds: float = 10.0) -> list[str]:
    """Run what is due, then (re)add a job per future drop moment and the periodic sweep; the job ids armed."""
    await service.run_due()
    wanted = await service.due_times()
    for job_id, run_at in wanted.items():
        scheduler.add_job(service.run_due, "date", run_date=run_at, id=job_id, **_JOB_DEFAULTS)
    if scheduler.get_job(SWEEP_JOB_ID) is None:
        scheduler.add_job(
            arm_drop_timers,
            "interval",
            seconds=sweep_seconds,
            args=[scheduler, service],
            kwargs={"sweep_seconds": sweep_seconds},
            id=SWEEP_JOB_ID,
            **_JOB_DEFAULTS,
        )
    for job in scheduler.get_jobs():
        if job.id.startswith("drop-") and job.id != SWEEP_JOB_ID and job.id not in wanted:
            job.remove()
    return [*wanted, SWEEP_JOB_ID]


class DropTimers:
    """The drops' timer setup for the scheduler leader: `app.timer_setups.append(DropTimers(app.drops))`.

    Called with each new scheduler (when this process becomes the leader); re-arms it whenever a drop's times
    change in this process, and leaves a stopped scheduler alone.
    """

    def __init__(self, service: DropService, *, sweep_seconds: float = 10.0) -> None:
        self._service = service
        self._sweep_seconds = sweep_seconds
        self._scheduler: BaseScheduler | None = None
        service.on_times_changed(self.rearm)

    async def __call__(self, scheduler: BaseScheduler) -> None:
        self._scheduler = scheduler
        await arm_drop_timers(scheduler, self._service, sweep_seconds=self._sweep_seconds)

    async def rearm(self) -> None:
        scheduler = self._scheduler
        if scheduler is not None and scheduler.state != STATE_STOPPED:
            await arm_drop_timers(scheduler, self._service, sweep_seconds=self._sweep_seconds)


async def attach_drop_timers(
    scheduler: BaseScheduler, service: DropService, *, sweep_seconds: float = 10.0
) -> DropTimers:
    """Arm `scheduler` now and re-arm it whenever a drop's times change."""
    timers = DropTimers(service, sweep_seconds=sweep_seconds)
    await timers(scheduler)
    return timers
