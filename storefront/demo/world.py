"""The demo's world: a temporary store, a local Stripe stand-in, the real web app on 127.0.0.1."""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from storefront.app import App, running
from storefront.clock import ManualClock
from storefront.config import Settings
from storefront.demo.stripe_events import StripeEvents, sign_payload
from storefront.member_report import member_report
from storefront.standins.stripe_api import StripeStandIn
from storefront.stripe_gateway import StripeGateway

__all__ = ["DEMO_CATALOG", "DemoDownload", "DemoWorld", "demo_world"]

DEMO_CATALOG = Path(__file__).parent / "catalog.toml"
_EVENTS_START = 1_790_000_000


@dataclass(frozen=True)
class DemoDownload:
    """What a member gets from a download button: the gateway's answer, the file, its license certificate."""

    status: int
    body: bytes
    license_id: str | None
    certificate: bytes | None


@dataclass
class DemoWorld:
    app: App
    url: str
    clock: ManualClock
    stripe_api: StripeStandIn
    events: StripeEvents
    http: aiohttp.ClientSession
    say: Callable[[str], None]
    webhook_secret: str

    async def deliver(self, event: dict[str, Any]) -> int:
        """POST a signed event to the real webhook endpoint and let the worker process it."""
        body = json.dumps(event)
        headers = {"Stripe-Signature": sign_payload(body, self.webhook_secret), "Content-Type": "application/json"}
        async with self.http.post(f"{self.url}/stripe/webhook", data=body, headers=headers) as response:
            status = response.status
        await self.app.worker.drain()
        return status

    def local(self, url: str) -> str:
        """Links name the public address; the demo's server listens on a random local port."""
        return self.url + urlsplit(url).path

    async def download(self, url: str) -> DemoDownload:
        """Tap a download button: the file (from the gateway, or where it redirects) and its certificate."""
        async with self.http.get(self.local(url), allow_redirects=False) as response:
            status, headers = response.status, response.headers
            body = await response.read() if status == 200 else b""
        if status == 302:
            async with self.http.get(headers["Location"]) as stored:
                body = await stored.read()
        license_id = headers.get("X-License-Id")
        certificate = None
        if license_id:
            async with self.http.get(f"{self.url}/license/{license_id}/certificate") as response:
                certificate = await response.read()
        return DemoDownload(status, body, license_id, certificate)

    async def show_member(self, identity: str) -> dict[str, Any]:
        report = await member_report(self.app, identity)
        subs = report["subscriptions"]
        if subs:
            sub = subs[0]
            when = f" since {sub['ended_at'][:16]}" if sub["ended_at"] else ""
            if not when and sub["access_until"]:
                when = f" until {sub['access_until'][:16]}"
            detail = f"{sub['tier'] or 'tier not known yet'} {sub['status']}{when}"
        else:
            detail = "no subscription"
        self.say(f"      {identity}: access={report['granted_tier'] or 'none'}, {detail}")
        return report


@asynccontextmanager
async def demo_world(say: Callable[[str], None]) -> AsyncIterator[DemoWorld]:
    async with AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="storefront-demo-")))
        clock = ManualClock(datetime.fromtimestamp(_EVENTS_START + 600, tz=UTC))
        stripe_api = await stack.enter_async_context(StripeStandIn(clock=clock))
        secret = "whsec_demo_" + secrets.token_hex(16)
        settings = Settings(
            _env_file=None,
            database_url=f"sqlite+aiosqlite:///{workdir}/demo.db",
            catalog_path=DEMO_CATALOG,
            stripe_webhook_secret=secret,
            stripe_api_key="sk_test_demo",
            blob_dir=workdir / "blobs",
            download_token_key_path=workdir / "keys" / "download_token.key",
            license_signing_key_path=workdir / "keys" / "license_signing_ed25519.pem",
        )
        gateway = StripeGateway("sk_test_demo", api_base=stripe_api.base_url)
        app = App(settings, clock=clock, stripe=gateway)
        stack.push_async_callback(app.close)
        serving = await stack.enter_async_context(running(app, host="127.0.0.1", port=0, worker=False))
        http = await stack.enter_async_context(aiohttp.ClientSession())
        assert serving.url is not None
        yield DemoWorld(app, serving.url, clock, stripe_api, StripeEvents(_EVENTS_START), http, say, secret)
