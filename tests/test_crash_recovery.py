"""A crash after the 200 loses nothing: the stored event is processed exactly once after restart."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys

import aiohttp
import pytest

from storefront.app import App
from storefront.config import Settings
from storefront.demo.stripe_events import StripeEvents
from tests.conftest import TEST_CATALOG
from tests.helpers import WEBHOOK_SECRET, WebhookSender, member_state, outbox_rows
from tests.lifecycle import full_lifecycle


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _start_storefront(db_url: str, port: int, role: str) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "CATALOG_PATH": str(TEST_CATALOG),
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "storefront", "run", "--host", "127.0.0.1", "--port", str(port), "--role", role],
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    async with aiohttp.ClientSession() as session:
        for _ in range(300):  # wait until it answers, or fail with its output
            if process.returncode is not None:
                raise AssertionError((await process.stderr.read()).decode() if process.stderr else "exited")
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return process
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
    process.kill()
    raise AssertionError("storefront did not start")


async def test_event_acknowledged_then_killed_is_processed_once_after_restart(db_url: str, events: StripeEvents):
    port = _free_port()
    steps = full_lifecycle(events)[:4]  # checkout, created, paid, active

    web_only = await _start_storefront(db_url, port, "web")
    try:
        async with aiohttp.ClientSession() as session:
            sender = WebhookSender(f"http://127.0.0.1:{port}", session)
            for step in steps:
                assert (await sender.send(step.event)).status == 200
    finally:
        web_only.send_signal(signal.SIGKILL)
        await web_only.wait()

    settings = Settings(
        _env_file=None, database_url=db_url, catalog_path=TEST_CATALOG, stripe_webhook_secret=WEBHOOK_SECRET
    )
    app = App(settings)
    try:
        assert await member_state(app, "telegram:1001") is None, "nothing is processed before the restart"
        restarted = await _start_storefront(db_url, port, "all")
        try:
            for _ in range(200):
                state = await member_state(app, "telegram:1001")
                if state and state["granted_tier"] == "fan":
                    break
                await asyncio.sleep(0.05)
        finally:
            restarted.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(restarted.wait(), 20) == 0, "SIGTERM shuts down cleanly"
        assert (await member_state(app, "telegram:1001"))["granted_tier"] == "fan"
        assert len(await outbox_rows(app, "access")) == 1
        assert [e.status for e in await app.inbox.entries()] == ["processed"] * 4
    finally:
        await app.close()


async def test_worker_cancelled_inside_a_handler_leaves_the_event_pending(app: App, webhook, events, monkeypatch):
    step = full_lifecycle(events)[3]
    await webhook.send(step.event)
    handler = app.dispatcher.handler_for("customer.subscription.updated")
    entered = asyncio.Event()

    async def crashing(conn, event, now):
        await handler(conn, event, now)  # writes happen, then the process "dies" before commit
        entered.set()
        await asyncio.Event().wait()

    monkeypatch.setitem(app.dispatcher._table, "customer.subscription.updated", crashing)
    task = asyncio.create_task(app.worker.drain())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await member_state(app, "telegram:1001") is None
    assert [e.status for e in await app.inbox.entries()] == ["pending"]

    monkeypatch.setitem(app.dispatcher._table, "customer.subscription.updated", handler)
    assert await app.worker.drain() == 1
    assert (await member_state(app, "telegram:1001"))["granted_tier"] == "fan"
    assert len(await outbox_rows(app, "access")) == 1


async def test_unknown_event_types_are_stored_and_acknowledged(app: App, webhook, events):
    event = events.event("customer.tax_id.created", {"id": "txi_1", "object": "tax_id"})
    assert (await webhook.send(event)).status == 200
    await app.worker.drain()
    assert [(e.type, e.status) for e in await app.inbox.entries()] == [("customer.tax_id.created", "ignored")]


async def test_failing_event_keeps_its_error_and_replays_once_fixed(app: App, webhook, events, clock, monkeypatch):
    step = full_lifecycle(events)[3]
    await webhook.send(step.event)
    handler = app.dispatcher.handler_for("customer.subscription.updated")

    async def broken(conn, event, now):
        raise RuntimeError("database hiccup")

    monkeypatch.setitem(app.dispatcher._table, "customer.subscription.updated", broken)
    await app.worker.drain()
    [entry] = await app.inbox.entries()
    assert (entry.status, entry.attempts, entry.last_error) == ("pending", 1, "RuntimeError: database hiccup")
    assert await app.worker.drain() == 0, "a failed event waits for its backoff"

    monkeypatch.setitem(app.dispatcher._table, "customer.subscription.updated", handler)
    await app.inbox.requeue(step.event["id"])
    await app.worker.drain()
    assert (await app.inbox.entry(step.event["id"])).status == "processed"
    assert (await member_state(app, "telegram:1001"))["granted_tier"] == "fan"


def test_module_runs_as_a_program():
    result = subprocess.run([sys.executable, "-m", "storefront", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "reconcile" in result.stdout
