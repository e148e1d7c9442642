"""Baselines: a bare aiohttp app that reads the body and answers 200 (or a 302), nothing else."""

from __future__ import annotations

import sys

from aiohttp import web


async def ok(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"received": True})


async def redirect(_request: web.Request) -> web.Response:
    raise web.HTTPFound("http://127.0.0.1:9/file")


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def main() -> None:
    app = web.Application(client_max_size=1_000_000)
    app.router.add_post("/stripe/webhook", ok)
    app.router.add_get("/dl/{token}", redirect)
    app.router.add_get("/healthz", health)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
