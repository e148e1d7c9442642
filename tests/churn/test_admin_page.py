"""The admin page: log in with the admin token, see the churn charts and tables; nobody else gets in."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from storefront.app import App
from storefront.churn import ChurnReports
from storefront.clock import ManualClock
from storefront.errors import ConfigError
from tests.churn.expected import expected_figures
from tests.churn.generated import History, generate
from tests.churn.store import store_in_bulk
from webhooks.admin import SESSION_COOKIE, add_admin_routes

ADMIN_TOKEN = "churn-admin-token-for-tests-0123456789"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class AdminSite:
    url: str
    history: History


async def _serve(app: App, token: str | None) -> AsyncIterator[str]:
    web_app = web.Application()
    reports = ChurnReports(app.db, app.catalog, app.clock, app.memberships.grace)
    add_admin_routes(web_app, reports=reports, clock=app.clock, admin_token=token)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def admin_site(app: App) -> AsyncIterator[AdminSite]:
    history = generate(300, seed=21)
    await store_in_bulk(app.db, history)
    async for url in _serve(app, ADMIN_TOKEN):
        yield AdminSite(url, history)


def _browser_like_session(**options: object) -> aiohttp.ClientSession:
    """A client that keeps cookies from 127.0.0.1 as a browser does (aiohttp refuses IP-address cookies by default)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), **options)  # type: ignore[arg-type]


async def _login(session: aiohttp.ClientSession, url: str, token: str) -> aiohttp.ClientResponse:
    async with session.post(f"{url}/admin/login", data={"token": token}, allow_redirects=False) as response:
        await response.read()
        return response


async def test_admin_sees_the_churn_charts_and_tables_in_chromium(admin_site: AdminSite, tmp_path: Path) -> None:
    if not CHROMIUM.exists():  # noqa: ASYNC240 - one stat before the test starts
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)")
    playwright = pytest.importorskip("playwright.async_api", reason="the playwright pip package is not installed")
    expected = expected_figures(admin_site.history)
    screenshot = tmp_path / "admin-churn.png"
    requested: list[str] = []
    async with playwright.async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 1600})
            page.on("request", lambda request: requested.append(request.url))
            await page.goto(f"{admin_site.url}/admin")
            assert page.url == f"{admin_site.url}/admin/login"
            await page.fill("#token", ADMIN_TOKEN)
            await page.click("button[type=submit]")
            await page.wait_for_selector("#months-table")
            await page.wait_for_function("[...document.images].every(img => img.complete)")
            widths = await page.eval_on_selector_all("img.chart", "imgs => imgs.map(img => img.naturalWidth)")
            assert len(widths) == 5 and all(width > 300 for width in widths)

            async def rows(table: str) -> int:
                return await page.eval_on_selector_all(f"#{table} tbody tr", "rows => rows.length")

            assert await rows("months-table") == 12
            assert await rows("tiers-table") == 12
            assert await rows("cohorts-table") == 12
            assert await rows("at-risk-table") == len(expected["at_risk"]) > 0
            paying_now = await page.inner_text("#months-table tbody tr:last-child td:nth-child(8)")
            assert int(paying_now) == expected["months"][-1]["overall"]["active_end"]
            await page.screenshot(path=str(screenshot), full_page=True)
        finally:
            await browser.close()
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert requested and not any(ADMIN_TOKEN in url for url in requested)


async def test_wrong_token_is_refused_and_opens_no_session(
    admin_site: AdminSite, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = ADMIN_TOKEN[:-1] + "X"
    async with _browser_like_session() as session:
        response = await _login(session, admin_site.url, wrong)
        assert response.status == 401
        assert SESSION_COOKIE not in response.cookies
        async with session.get(f"{admin_site.url}/admin", allow_redirects=False) as page:
            assert page.status == 303 and page.headers["Location"] == "/admin/login"
        async with session.get(f"{admin_site.url}/admin/churn.json") as download:
            assert str(download.url).endswith("/admin/login")
        assert (await _login(session, admin_site.url, ADMIN_TOKEN)).status == 303
    assert "admin login refused: wrong token" in caplog.text
    assert wrong not in caplog.text and ADMIN_TOKEN not in caplog.text


async def test_right_token_opens_a_session_for_the_dashboard_and_downloads(admin_site: AdminSite) -> None:
    async with _browser_like_session() as session:
        response = await _login(session, admin_site.url, ADMIN_TOKEN)
        assert response.status == 303 and response.headers["Location"] == "/admin"
        cookie = response.cookies[SESSION_COOKIE]
        assert cookie["httponly"] and cookie["samesite"] == "Strict" and ADMIN_TOKEN not in cookie.value
        async with session.get(f"{admin_site.url}/admin?months=6") as page:
            assert page.status == 200
            assert (await page.text()).count('<img class="chart"') == 5
        async with session.get(f"{admin_site.url}/admin/churn.json?months=6") as download:
            assert (await download.json())["schema"] == "storefront.churn/1"
        async with session.get(f"{admin_site.url}/admin/churn.csv?months=6") as download:
            assert (await download.text()).startswith("month,tier,")
        async with session.get(f"{admin_site.url}/admin?months=0", allow_redirects=False) as bad:
            assert bad.status == 400


async def test_tampered_or_expired_session_cookies_are_refused(admin_site: AdminSite, clock: ManualClock) -> None:
    async with _browser_like_session() as session:
        cookie = (await _login(session, admin_site.url, ADMIN_TOKEN)).cookies[SESSION_COOKIE].value
    expires, nonce, signature = cookie.split(".")
    forged = f"{int(expires) + 86400}.{nonce}.{signature}"
    for value in (forged, cookie[:-2], "1.2.3", ""):
        async with (
            _browser_like_session(cookies={SESSION_COOKIE: value}) as session,
            session.get(f"{admin_site.url}/admin", allow_redirects=False) as page,
        ):
            assert page.status == 303, value
    clock.advance(timedelta(hours=12, seconds=1))
    async with (
        _browser_like_session(cookies={SESSION_COOKIE: cookie}) as session,
        session.get(f"{admin_site.url}/admin", allow_redirects=False) as page,
    ):
        assert page.status == 303


async def test_repeated_wrong_tokens_are_throttled(admin_site: AdminSite, clock: ManualClock) -> None:
    async with _browser_like_session() as session:
        for _ in range(5):
            assert (await _login(session, admin_site.url, "wrong")).status == 401
        assert (await _login(session, admin_site.url, ADMIN_TOKEN)).status == 429
        clock.advance(timedelta(minutes=16))
        assert (await _login(session, admin_site.url, ADMIN_TOKEN)).status == 303


async def test_admin_page_is_off_without_a_token(app: App) -> None:
    async for url in _serve(app, None):
        async with _browser_like_session() as session:
            for path in ("/admin", "/admin/login"):
                async with session.get(f"{url}{path}") as page:
                    assert page.status == 404
                    assert "set ADMIN_TOKEN" in await page.text()


def test_a_short_admin_token_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least 16 characters"):
        add_admin_routes(web.Application(), reports=None, clock=None, admin_token="short")  # type: ignore[arg-type]
