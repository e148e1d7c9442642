"""The aiohttp web app: health, the Stripe webhook endpoint; later issues add routes to it."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import sqlalchemy as sa
from aiohttp import web

from storefront.db import Database
from webhooks.inbox import Inbox
from webhooks.signature import BadWebhook, WebhookVerifier

__all__ = ["MAX_WEBHOOK_BYTES", "create_web_app"]

log = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 1_000_000
# Every delivery gets one of these two answers: encoded once rather than on each request (the hot path).
_ACK_BODIES = {dup: json.dumps({"received": True, "duplicate": dup}).encode() for dup in (False, True)}


def create_web_app(
    *, db: Database, inbox: Inbox, verifier: WebhookVerifier, on_event_stored: Callable[[], None]
) -> web.Application:
    app = web.Application(client_max_size=MAX_WEBHOOK_BYTES)

    async def healthz(_request: web.Request) -> web.Response:
        try:
            async with db.read() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except Exception:
            log.exception("health check: database unreachable")
            return web.json_response({"status": "unhealthy", "database": "unreachable"}, status=503)
        return web.json_response({"status": "ok"})

    async def stripe_webhook(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_WEBHOOK_BYTES:
            return _refuse(413, "body over 1 MB")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _refuse(413, "body over 1 MB")
        try:
            event = verifier.verify(body, request.headers.get("Stripe-Signature"))
        except BadWebhook as error:
            log.warning("webhook refused: %s", error)
            return _refuse(400, str(error))
        is_new = await inbox.store(event, body.decode("utf-8"))
        if is_new:
            on_event_stored()
        return web.Response(body=_ACK_BODIES[not is_new], content_type="application/json")

    async def checkout_success(_request: web.Request) -> web.Response:
        return _page("Thank you!", "Your payment went through. Your access arrives in your chat within a minute.")

    async def checkout_cancel(_request: web.Request) -> web.Response:
        return _page("Checkout cancelled", "Nothing was charged. You can start again from the chat at any time.")

    async def home(_request: web.Request) -> web.Response:
        return _page("Storefront", "Manage your membership from the chat: /me, /manage, /tiers.")

    app.router.add_get("/", home)
    app.router.add_get("/checkout/success", checkout_success)
    app.router.add_get("/checkout/cancel", checkout_cancel)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/stripe/webhook", stripe_webhook)
    return app


def _page(title: str, text: str) -> web.Response:
    body = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        "<body style='font-family:sans-serif;max-width:36rem;margin:4rem auto'>"
        f"<h1>{title}</h1><p>{text}</p></body></html>"
    )
    return web.Response(text=body, content_type="text/html")


def _refuse(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)
