"""Servers started in their own process for a benchmark, so the load generator does not share their CPU time."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def process(
    args: list[str], port: int | None, env: dict[str, str] | None = None, *, ready_within: float = 60.0
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start `python <args>` and wait until GET /healthz answers 200 on `port` (no port: until it says running).

    `ready_within`: the longest a process without a web server may take to say it is running.
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    drain: asyncio.Task[None] | None = None
    try:
        if port is None:
            await _said_running(proc, ready_within)
        else:
            await _answers_healthz(proc, port)
        assert proc.stderr is not None
        drain = asyncio.create_task(_discard(proc.stderr))  # a full pipe would block the server mid-run
        yield proc
    finally:
        if drain is not None:
            drain.cancel()
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()


async def _answers_healthz(proc: asyncio.subprocess.Process, port: int) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if proc.returncode is not None:
                raise RuntimeError((await proc.stderr.read()).decode() if proc.stderr else "exited")
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.02)
    raise RuntimeError("server did not start")


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


async def _said_running(proc: asyncio.subprocess.Process, ready_within: float) -> None:
    """Wait for the `storefront (...) running` line a process without a web server prints when it is up."""
    assert proc.stderr is not None
    said: list[str] = []
    while line := await asyncio.wait_for(proc.stderr.readline(), ready_within):
        said.append(line.decode())
        if " running" in said[-1]:
            return
    raise RuntimeError("".join(said) or "exited")
