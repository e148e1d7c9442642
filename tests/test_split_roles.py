"""Web front and worker in separate apps (as `--role web` and `--role worker`): stored events still get processed."""

from __future__ import annotations

import asyncio

from storefront.app import App, running
from storefront.clock import ManualClock
from storefront.config import Settings
from storefront.demo.stripe_events import StripeEvents
from tests.helpers import WebhookSender, member_state
from tests.lifecycle import full_lifecycle


async def test_a_separate_worker_processes_what_the_web_front_stored_within_seconds(
    settings: Settings, clock: ManualClock, webhook: WebhookSender, events: StripeEvents
):
    # The web front wakes only its own app's worker, as in another process: this one learns from the database.
    worker_app = App(settings, clock=clock)
    try:
        async with running(worker_app, host="127.0.0.1", port=0, web_server=False):
            for step in full_lifecycle(events)[:4]:  # checkout, created, first invoice paid, active
                assert (await webhook.send(step.event)).status == 200

            async def fan_granted() -> None:
                # The other app's commit offers no event to wait on: the test reads the database.
                while (await member_state(worker_app, "telegram:1001") or {}).get("granted_tier") != "fan":  # noqa: ASYNC110
                    await asyncio.sleep(0.05)

            await asyncio.wait_for(fan_granted(), timeout=10)  # polling every 30 s, this waited half a minute
    finally:
        await worker_app.close()
