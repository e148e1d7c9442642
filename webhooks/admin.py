"""The admin page: churn figures as charts and tables, and the members at risk, behind an admin token.

Login is a form POST of the token (compared in constant time); success sets a signed, HttpOnly,
SameSite=Strict session cookie. The token never appears in a URL, a page or a log line.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiohttp import web

from storefront.churn import (
    MAX_MONTHS,
    ChurnReport,
    ChurnReports,
    format_rate,
    report_csv,
    report_json,
)
from storefront.clock import Clock
from storefront.errors import ConfigError
from storefront.money import format_money

__all__ = ["MIN_ADMIN_TOKEN_LENGTH", "SESSION_COOKIE", "add_admin_routes"]

log = logging.getLogger(__name__)

SESSION_COOKIE = "storefront_admin"
MIN_ADMIN_TOKEN_LENGTH = 16
SESSION_LIFETIME = timedelta(hours=12)
_FAILURES_ALLOWED = 5
_FAILURE_WINDOW = timedelta(minutes=15)
_ADDRESSES_REMEMBERED = 10_000
_AT_RISK_SHOWN = 200
_COMMENTS_SHOWN = 50

_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass
class _Sessions:
    """Stateless sessions: `<expiry>.<nonce>.<HMAC>` under a key derived from the admin token."""

    key: bytes
    clock: Clock
    secure: bool

    def issue(self, response: web.StreamResponse) -> None:
        expires = int((self.clock.now() + SESSION_LIFETIME).timestamp())
        body = f"{expires}.{secrets.token_urlsafe(16)}"
        response.set_cookie(
            SESSION_COOKIE,
            f"{body}.{self._sign(body)}",
            max_age=int(SESSION_LIFETIME.total_seconds()),
            path="/admin",
            httponly=True,
            samesite="Strict",
            secure=self.secure,
        )

    def valid(self, request: web.Request) -> bool:
        value = request.cookies.get(SESSION_COOKIE, "")
        body, _, signature = value.rpartition(".")
        expires, _, _nonce = body.partition(".")
        if not body or not expires.isdigit():
            return False
        if not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            return False
        return int(expires) > self.clock.now().timestamp()

    def _sign(self, body: str) -> str:
        digest = hmac.new(self.key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass
class _Throttle:
    """Refuses logins from an address after repeated wrong tokens, for a while."""

    clock: Clock
    failures: dict[str, list[datetime]] = field(default_factory=dict)

    def blocked(self, who: str) -> bool:
        cutoff = self.clock.now() - _FAILURE_WINDOW
        recent = [when for when in self.failures.get(who, []) if when > cutoff]
        self.failures[who] = recent
        return len(recent) >= _FAILURES_ALLOWED

    def failed(self, who: str) -> None:
        now = self.clock.now()
        if len(self.failures) > _ADDRESSES_REMEMBERED:  # forget addresses that stopped trying
            cutoff = now - _FAILURE_WINDOW
            self.failures = {key: times for key, times in self.failures.items() if times and times[-1] > cutoff}
        self.failures.setdefault(who, []).append(now)

    def succeeded(self, who: str) -> None:
        self.failures.pop(who, None)


def add_admin_routes(
    app: web.Application,
    *,
    reports: ChurnReports,
    clock: Clock,
    admin_token: str | None,
    secure_cookies: bool = False,
) -> None:
    """Serve /admin on `app`. Without a token the routes answer 404 saying how to turn the page on."""
    if admin_token is None or not admin_token.strip():
        app.router.add_route("*", "/admin", _off)
        app.router.add_route("*", "/admin/{rest:.*}", _off)
        return
    if len(admin_token) < MIN_ADMIN_TOKEN_LENGTH:
        raise ConfigError(f"ADMIN_TOKEN must be at least {MIN_ADMIN_TOKEN_LENGTH} characters long")
    expected = admin_token.encode()
    key = hmac.new(expected, b"storefront admin session", hashlib.sha256).digest()
    sessions = _Sessions(key, clock, secure_cookies)
    throttle = _Throttle(clock)

    async def report_for(request: web.Request) -> ChurnReport:
        return await reports.get(_months(request))

    def logged_in(
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def guarded(request: web.Request) -> web.StreamResponse:
            if not sessions.valid(request):
                return _redirect("/admin/login")
            return await handler(request)

        return guarded

    async def login_form(request: web.Request) -> web.Response:
        if sessions.valid(request):
            return _redirect("/admin")
        return _page("Admin login", _login_html())

    async def login(request: web.Request) -> web.Response:
        who = request.remote or "?"
        if throttle.blocked(who):
            log.warning("admin login refused: too many wrong tokens from %s", who)
            return _page("Admin login", _login_html("Too many wrong tokens: wait 15 minutes."), status=429)
        form = await request.post()
        given = form.get("token")
        if not isinstance(given, str) or not hmac.compare_digest(given.strip().encode(), expected):
            throttle.failed(who)
            log.warning("admin login refused: wrong token from %s", who)
            return _page("Admin login", _login_html("That token is not right."), status=401)
        throttle.succeeded(who)
        response = _redirect("/admin")
        sessions.issue(response)
        log.info("admin logged in from %s", who)
        return response

    async def logout(_request: web.Request) -> web.Response:
        response = _redirect("/admin/login")
        response.del_cookie(SESSION_COOKIE, path="/admin")
        return response

    @logged_in
    async def dashboard(request: web.Request) -> web.Response:
        report = await report_for(request)
        charts = await asyncio.to_thread(_render_charts, report)
        return _page("Churn", _dashboard_html(report, charts))

    @logged_in
    async def as_json(request: web.Request) -> web.Response:
        return web.json_response(report_json(await report_for(request)), headers=_HEADERS)

    @logged_in
    async def as_csv(request: web.Request) -> web.Response:
        body = report_csv(await report_for(request))
        return web.Response(text=body, content_type="text/csv", headers=_HEADERS)

    app.router.add_get("/admin", dashboard)
    app.router.add_get("/admin/login", login_form)
    app.router.add_post("/admin/login", login)
    app.router.add_post("/admin/logout", logout)
    app.router.add_get("/admin/churn.json", as_json)
    app.router.add_get("/admin/churn.csv", as_csv)


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={**_HEADERS, "Location": location})


async def _off(_request: web.Request) -> web.Response:
    return web.Response(status=404, text="The admin page is off: set ADMIN_TOKEN to turn it on.\n")


def _months(request: web.Request) -> int:
    raw = request.query.get("months", "12")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_MONTHS:
        raise web.HTTPBadRequest(text=f"months must be a whole number from 1 to {MAX_MONTHS}\n")
    return int(raw)


def _render_charts(report: ChurnReport) -> dict[str, str]:
    """Every chart as a data: URI (runs in a worker thread)."""
    from storefront.churn.charts import CHARTS  # matplotlib loads on first use, not at start-up

    return {
        name: "data:image/png;base64," + base64.b64encode(render(report)).decode() for name, render in CHARTS.items()
    }


# HTML -------------------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; max-width: 1150px; }
h1 { margin: 0 0 .5rem 0; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
table { border-collapse: collapse; font-size: .85rem; margin: .5rem 0; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: right; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1rem 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .6rem 1rem; min-width: 150px; }
.card b { display: block; font-size: 1.4rem; }
img.chart { display: block; max-width: 100%; margin: .5rem 0; border: 1px solid #eee; }
.bar { display: flex; gap: 1rem; align-items: center; } .error { color: #b00020; }
form.inline { display: inline; }
"""


def _page(title: str, body: str, status: int = 200) -> web.Response:
    text = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} - storefront'
        f"</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )
    return web.Response(text=text, content_type="text/html", status=status, headers=_HEADERS)


def _login_html(error: str | None = None) -> str:
    message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return (
        "<h1>Storefront admin</h1>"
        f"{message}"
        '<form method="post" action="/admin/login">'
        '<label for="token">Admin token</label> '
        '<input id="token" name="token" type="password" autocomplete="current-password" required autofocus> '
        '<button type="submit">Log in</button></form>'
    )


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _table(table_id: str, head: list[str], rows: list[list[str]], text_columns: int = 1) -> str:
    def cells(values: list[str], tag: str) -> str:
        return "".join(
            f'<{tag} class="text">{v}</{tag}>' if i < text_columns else f"<{tag}>{v}</{tag}>"
            for i, v in enumerate(values)
        )

    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{cells(head, "th")}</tr></thead><tbody>{body}</tbody></table>'


def _money(amounts: dict[str, int]) -> str:
    return "<br>".join(_e(format_money(amount, currency)) for currency, amount in amounts.items()) or "0"


def _net(report: ChurnReport, month_index: int) -> str:
    moves = report.months[month_index].mrr_movement
    return "<br>".join(_e(format_money(move.net, currency)) for currency, move in moves.items()) or "0"


def _dashboard_html(report: ChurnReport, charts: dict[str, str]) -> str:
    latest = report.latest
    months = len(report.months)
    previous = report.months[-2] if months > 1 else None
    choices = "".join(
        f'<option value="{n}"{" selected" if n == months else ""}>{n} months</option>' for n in (3, 6, 12, 24, 36)
    )
    header = (
        '<div class="bar"><h1>Churn</h1>'
        f'<form method="get" action="/admin"><select name="months">{choices}</select> <button>Show</button></form>'
        '<form class="inline" method="post" action="/admin/logout"><button>Log out</button></form></div>'
        f"<p>{_e(report.months[0].month)} to {_e(latest.month)} (the last month to date, "
        f"{_e(report.generated_at.strftime('%Y-%m-%d %H:%M UTC'))}); "
        '<a href="/admin/churn.json?months=' + str(months) + '">JSON</a>, '
        '<a href="/admin/churn.csv?months=' + str(months) + '">CSV</a>.</p>'
    )
    cards = [
        ("Paying members", _e(latest.overall.active_end)),
        ("Churn this month", _e(format_rate(latest.overall.churn_rate))),
        ("Churn last month", _e(format_rate(previous.overall.churn_rate) if previous else "n/a")),
        ("MRR", _money(latest.mrr)),
        ("Net MRR this month", _net(report, -1)),
        ("At risk now", _e(len(report.at_risk))),
    ]
    card_html = "".join(f'<div class="card">{label}<b>{value}</b></div>' for label, value in cards)
    chart_html = "".join(
        f'<img class="chart" id="chart-{name}" alt="{_e(name)} chart" src="{uri}">' for name, uri in charts.items()
    )
    return "".join(
        [
            header,
            f'<div class="cards">{card_html}</div>',
            "<h2>Charts</h2>",
            chart_html,
            "<h2>Month by month</h2>",
            _months_table(report),
            "<h2>Churn rate by tier</h2>",
            _tiers_table(report),
            "<h2>Cohort retention</h2>",
            _cohorts_table(report),
            "<h2>Cancellation feedback</h2>",
            _feedback_tables(report),
            "<h2>Members at risk</h2>",
            _at_risk_table(report),
        ]
    )


def _months_table(report: ChurnReport) -> str:
    rows = []
    for index, month in enumerate(report.months):
        o = month.overall
        rows.append(
            [
                _e(month.month + (" (to date)" if month.partial else "")),
                _e(o.active_start),
                _e(o.new),
                _e(o.reactivated),
                _e(o.churned),
                _e(o.churned_voluntary),
                _e(o.churned_involuntary),
                _e(o.active_end),
                _e(o.trialing_end),
                _e(format_rate(o.churn_rate)),
                _money(month.mrr),
                _net(report, index),
            ]
        )
    head = ["Month", "Paying at start", "New", "Reactivated", "Churned", "Voluntary", "Involuntary",
            "Paying at end", "Trialing", "Churn rate", "MRR", "Net MRR"]  # fmt: skip
    return _table("months-table", head, rows)


def _tiers_table(report: ChurnReport) -> str:
    head = ["Month", *(_e(tier) for tier in report.tiers)]
    rows = [
        [
            _e(month.month),
            *(
                f"{_e(format_rate(month.tiers[t].churn_rate))} ({month.tiers[t].churned}/{month.tiers[t].active_start})"
                for t in report.tiers
            ),
        ]
        for month in report.months
    ]
    return _table("tiers-table", head, rows)


def _cohorts_table(report: ChurnReport) -> str:
    width = len(report.months)
    rows = []
    for cohort in report.cohorts:
        shares = [_e(f"{share * 100:.0f}%") for share in cohort.retention]
        rows.append([_e(cohort.month), _e(cohort.size), *shares, *([""] * (width - len(shares)))])
    return _table("cohorts-table", ["First paid month", "Members", *(f"+{k}" for k in range(width))], rows)


def _feedback_tables(report: ChurnReport) -> str:
    totals = report.feedback_totals()
    feedback = _table("feedback-table", ["Feedback", "Members"], [[_e(k), _e(v)] for k, v in totals.items()])
    comments = report.comments()
    shown = comments[:_COMMENTS_SHOWN]
    rows = [[_e(c.month), _e(c.member_id), _e(c.tier), _e(c.feedback or ""), _e(c.comment)] for c in shown]
    more = f"<p>{len(comments) - len(shown)} older comments are in the JSON.</p>" if len(comments) > len(shown) else ""
    return feedback + _table("comments-table", ["Month", "Member", "Tier", "Feedback", "Comment"], rows, 5) + more


def _at_risk_table(report: ChurnReport) -> str:
    shown = report.at_risk[:_AT_RISK_SHOWN]
    rows = [
        [
            _e(m.member_id),
            _e(", ".join(m.identities)),
            _e(m.tier),
            _e(m.status.replace("_", " ")),
            _e(m.until.strftime("%Y-%m-%d %H:%M") if m.until else ""),
            _e(m.cancellation_feedback or ""),
            _money(m.mrr),
        ]
        for m in shown
    ]
    head = ["Member", "Identities", "Tier", "Status", "Access until", "Feedback", "MRR"]
    note = f"<p>{len(report.at_risk)} members at risk; the first {len(shown)} are shown.</p>"
    return (note if len(report.at_risk) > len(shown) else "") + _table("at-risk-table", head, rows, 6)
