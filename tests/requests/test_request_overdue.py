"""Requests past their due time are flagged to the admins once, by a timer re-armed from the database."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from entitlements.requests import Brief, RequestService
from storefront.app import App
from storefront.clock import ManualClock
from tests.requests.conftest import ADMINS, a_member, admin_alerts

BRAND = "telegram:5001"
CREATOR = "telegram:9001"


async def test_an_overdue_request_is_flagged_to_the_admins_exactly_once(
    app: App, webhook, events, requests: RequestService, clock: ManualClock
):
    await a_member(app, webhook, events, BRAND)
    late = (await requests.submit(BRAND, Brief("fox print in blue"))).request
    assert await requests.flag_overdue() == []

    clock.advance(timedelta(days=5, hours=2))  # the Brand turnaround is 5 days
    assert await requests.flag_overdue() == [late.id]
    assert await requests.flag_overdue() == []
    clock.advance(timedelta(days=1))
    assert await requests.flag_overdue() == []

    [alert] = await admin_alerts(app)
    assert alert["key"] == f"admin-alert:request-overdue:{late.id}" and alert["member_id"] is None
    assert alert["payload"]["to"] == list(ADMINS)
    assert f"Custom request #{late.id} (fox print in blue)" in alert["payload"]["text"]
    assert "overdue by 2 h" in alert["payload"]["text"]
    assert (await requests.get(late.id)).overdue_flagged_at is not None


async def test_only_open_requests_past_their_due_time_are_flagged(
    app: App, webhook, events, requests: RequestService, clock: ManualClock
):
    await a_member(app, webhook, events, BRAND)
    delivered = (await requests.submit(BRAND, Brief("delivered in time"))).request
    open_one = (await requests.submit(BRAND, Brief("still being made"))).request
    unpaid = (await requests.submit(BRAND, Brief("an extra nobody paid for"))).request
    await requests.accept(delivered.id, by=CREATOR)
    await requests.deliver(delivered.id, "done", by=CREATOR)
    await requests.accept(open_one.id, by=CREATOR)
    await requests.start(open_one.id, by=CREATOR)

    clock.advance(timedelta(days=30))
    assert await requests.flag_overdue() == [open_one.id]
    assert unpaid.id not in [alert["payload"]["request"] for alert in await admin_alerts(app)]


async def test_the_overdue_timer_is_armed_with_the_others(app: App):
    scheduler = AsyncIOScheduler()
    for setup in app.timer_setups:
        await setup(scheduler)
    job = scheduler.get_job("request-overdue")
    assert job is not None and job.func == app.requests.flag_overdue
