"""PTB's requests over aiohttp: answers pass through, and failures become PTB's own errors."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp import web
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData

from bots.delivery.telegram_pace import telegram_rate_limiter
from bots.telegram_http import AiohttpRequest


async def serve(handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/bot/method", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/bot/method"


async def test_the_answer_and_its_status_come_back_as_sent():
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "description": "Bad Request: chat not found"}, status=400)

    runner, url = await serve(handler)
    request = AiohttpRequest(4)
    await request.initialize()
    try:
        status, body = await request.do_request(url, "POST", RequestData([]))
        assert status == 400 and b"chat not found" in body  # PTB turns this into BadRequest from here
    finally:
        await request.shutdown()
        await runner.cleanup()


async def test_a_server_slower_than_the_read_timeout_is_a_timeout():
    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({"ok": True})

    runner, url = await serve(handler)
    request = AiohttpRequest(4, read_timeout=0.1, write_timeout=0.1)
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await request.do_request(url, "POST")
    finally:
        await request.shutdown()
        await runner.cleanup()


async def test_nobody_listening_is_a_network_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again at once: nothing listens there
    request = AiohttpRequest(4)
    await request.initialize()
    try:
        with pytest.raises(NetworkError, match="aiohttp"):
            await request.do_request(f"http://127.0.0.1:{port}/bot/method", "POST")
    finally:
        await request.shutdown()


async def test_a_request_before_initialize_is_refused():
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest(1).do_request("http://127.0.0.1:9/", "POST")


@pytest.mark.parametrize("per_second", [30, 300, 1000])
def test_the_pace_keeps_room_in_every_second_for_requests_that_arrive_bunched(per_second: int):
    limiter = telegram_rate_limiter(per_second)
    burst, period = limiter.overall.max_rate, limiter.overall.time_period
    most_in_any_second = burst + burst / period
    assert most_in_any_second <= per_second
    assert most_in_any_second >= 0.95 * per_second  # and loses little of the budget
