"""A small stand-in of Discord's REST API (v10), served by aiohttp on 127.0.0.1, for discord.py's real HTTP path.

What it covers is what the storefront's deliveries use: log-in (`GET /users/@me`, `/oauth2/applications/@me`),
guild members and their roles (`PUT`/`DELETE .../members/{user}/roles/{role}` with the audit-log reason),
direct messages (`POST /users/@me/channels`, `POST /channels/{id}/messages`). It answers like Discord:
JSON errors `{"message", "code"}` (403 50013 Missing Permissions when the bot lacks Manage Roles or the role
sits at or above the bot's highest role, 403 50007 to a user with closed DMs, 404 10007/10011/10004 for an
unknown member/role/guild), `X-RateLimit-*` headers per route bucket, and 429 with `retry_after` (plus `Via`,
without which discord.py takes a 429 for a Cloudflare ban) past the global or a bucket's limit.

Point discord.py at it with `discord.http.Route.BASE = stand_in.api_base` before creating routes, then
`await client.login(token)`; no gateway is needed for REST calls. Not thread-safe: use it from the event loop
that serves it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from storefront.standins._loopback import LoopbackServer

__all__ = ["DiscordApiStandIn", "DiscordCall", "DiscordLimits"]

Json = dict[str, Any]

DEFAULT_TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMA.standin.discord-bot-token-for-tests"
_VIA = "1.1 google"


@dataclass(frozen=True)
class DiscordLimits:
    """Requests per sliding second for the whole bot (Discord: 50), and an optional per-bucket limit.

    A bucket is a route template plus its major parameter (guild or channel), as on Discord; it allows
    `bucket_limit` requests per `bucket_window` seconds, reported in the X-RateLimit-* headers.
    """

    global_per_second: int | None = 50
    bucket_limit: int | None = None
    bucket_window: float = 1.0


@dataclass(frozen=True)
class DiscordCall:
    method: str
    path: str
    route: str
    status: int
    at: float
    code: int | None = None
    reason: str | None = None
    body: Any = None


@dataclass
class _Bucket:
    remaining: int
    reset_at: float


@dataclass
class _Member:
    user: Json
    roles: set[int] = field(default_factory=set)


class _Refusal(Exception):
    def __init__(self, status: int, message: str, code: int) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"message": message, "code": code}


class DiscordApiStandIn(LoopbackServer):
    """One guild, its roles and members, and direct messages; every request is recorded in `calls`."""

    name = "Discord stand-in"

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        guild_id: int = 1_000_000_000_000_000_001,
        bot_user_id: int = 1_000_000_000_000_000_002,
        limits: DiscordLimits | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.guild_id = guild_id
        self.limits = limits or DiscordLimits()
        self.calls: list[DiscordCall] = []
        self.bot_user: Json = {
            "id": str(bot_user_id),
            "username": "storefront-bot",
            "discriminator": "0",
            "global_name": "Storefront",
            "avatar": None,
            "bot": True,
            "flags": 0,
        }
        self.manage_roles = True
        self.bot_top_position = 10
        self._roles: dict[int, int] = {}  # role id -> position
        self._members: dict[int, _Member] = {}
        self._dms_closed: set[int] = set()
        self._dm_channels: dict[int, int] = {}  # channel id -> user id
        self._messages: list[Json] = []
        self._ids = itertools.count(1_200_000_000_000_000_000)
        self._timer = timer
        self._recent: deque[float] = deque()
        self._buckets: dict[str, _Bucket] = {}
        self._forced_429: list[float] = []
        super().__init__()

    # --- lifecycle ---------------------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/v10/{tail:.*}", self._serve)
        return app

    @property
    def api_base(self) -> str:
        """What `discord.http.Route.BASE` should be: `http://127.0.0.1:PORT/api/v10`."""
        return f"{self.base_url}/api/v10"

    # --- arranging the world -----------------------------------------------------------------------------

    def add_role(self, role_id: int, *, position: int = 1) -> None:
        """A role in the guild; the bot can manage it only if `position` is below `bot_top_position`."""
        self._roles[role_id] = position

    def add_member(self, user_id: int, *, roles: tuple[int, ...] = ()) -> None:
        self._members[user_id] = _Member(self._user(user_id), set(roles))

    def remove_member(self, user_id: int) -> None:
        """The user leaves the server."""
        self._members.pop(user_id, None)

    def close_dms(self, user_id: int) -> None:
        """The user accepts no direct messages from server members: sends get 403 50007."""
        self._dms_closed.add(user_id)

    def rate_limit_next(self, count: int = 1, *, retry_after: float = 0.2) -> None:
        """Answer the next `count` requests with a bucket 429 asking to retry after `retry_after` seconds."""
        self._forced_429.extend([retry_after] * count)

    # --- inspecting --------------------------------------------------------------------------------------

    def roles_of(self, user_id: int) -> set[int]:
        member = self._members.get(user_id)
        return set(member.roles) if member else set()

    def role_calls(self, method: str | None = None, *, status: int | None = None) -> list[DiscordCall]:
        """Role add (PUT) / remove (DELETE) requests as received."""
        return [
            call
            for call in self.calls
            if call.route == "/guilds/{guild_id}/members/{user_id}/roles/{role_id}"
            and (method is None or call.method == method)
            and (status is None or call.status == status)
        ]

    def dms_to(self, user_id: int) -> list[Json]:
        """Messages the bot sent successfully to the user's DM channel, in order."""
        return [message for message in self._messages if self._dm_channels.get(int(message["channel_id"])) == user_id]

    def sent_messages(self) -> list[Json]:
        return list(self._messages)

    def max_rate_observed(self, window: float = 1.0) -> int:
        """The most requests received in any `window` seconds (Discord counts refused ones too)."""
        moments = sorted(call.at for call in self.calls)
        best = start = 0
        for end, moment in enumerate(moments):
            while moments[start] <= moment - window:
                start += 1
            best = max(best, end - start + 1)
        return best

    # --- HTTP --------------------------------------------------------------------------------------------

    async def _serve(self, request: web.Request) -> web.Response:
        at = self._timer()
        path = "/" + request.match_info["tail"]
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw and request.content_type == "application/json" else None
        reason = request.headers.get("X-Audit-Log-Reason")
        reason = unquote(reason) if reason else None
        route, params = _route(request.method, path)
        headers = {"Via": _VIA}
        try:
            if request.headers.get("Authorization") != f"Bot {self.token}":
                raise _Refusal(401, "401: Unauthorized", 0)
            if route is None:
                raise _Refusal(404, "404: Not Found", 0)
            headers.update(self._admit(request.method, route, params, at))
            status, result = self._handle(request.method, route, params, body)
        except _RateLimited as limited:
            self.calls.append(DiscordCall(request.method, path, route or "", 429, at, None, reason, body))
            return _json(limited.body, 429, {**headers, **limited.headers})
        except _Refusal as refusal:
            self.calls.append(
                DiscordCall(request.method, path, route or "", refusal.status, at, refusal.body["code"], reason, body)
            )
            return _json(refusal.body, refusal.status, headers)
        self.calls.append(DiscordCall(request.method, path, route, status, at, None, reason, body))
        if status == 204:
            return web.Response(status=204, headers=headers)
        return _json(result, status, headers)

    def _admit(self, method: str, route: str, params: dict[str, str], at: float) -> dict[str, str]:
        """Apply the global and bucket limits; the X-RateLimit headers of an admitted request."""
        if self._forced_429:
            retry_after = self._forced_429.pop(0)
            raise _RateLimited(retry_after, is_global=False, bucket=_bucket_hash(method, route))
        limit = self.limits.global_per_second
        while self._recent and self._recent[0] <= at - 1.0:
            self._recent.popleft()
        if limit is not None and len(self._recent) >= limit:
            retry_after = max(0.001, self._recent[len(self._recent) - limit] + 1.0 - at)
            raise _RateLimited(retry_after, is_global=True, bucket=None)
        headers: dict[str, str] = {}
        if self.limits.bucket_limit is not None:
            bucket_hash = _bucket_hash(method, route)
            major = params.get("guild_id") or params.get("channel_id") or ""
            key = f"{bucket_hash}:{major}"
            bucket = self._buckets.get(key)
            if bucket is None or bucket.reset_at <= at:
                bucket = self._buckets[key] = _Bucket(self.limits.bucket_limit, at + self.limits.bucket_window)
            if bucket.remaining <= 0:
                raise _RateLimited(bucket.reset_at - at, is_global=False, bucket=bucket_hash)
            bucket.remaining -= 1
            reset_after = bucket.reset_at - at
            headers = {
                "X-RateLimit-Limit": str(self.limits.bucket_limit),
                "X-RateLimit-Remaining": str(bucket.remaining),
                "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                "X-RateLimit-Bucket": bucket_hash,
            }
        self._recent.append(at)
        return headers

    def _handle(self, method: str, route: str, params: dict[str, str], body: Any) -> tuple[int, Any]:
        if route == "/users/@me":
            return 200, self.bot_user
        if route == "/oauth2/applications/@me":
            return 200, self._application()
        if route == "/users/@me/channels":
            return 200, self._open_dm(body or {})
        if route == "/channels/{channel_id}/messages":
            return 200, self._send(int(params["channel_id"]), body or {})
        self._guild(params["guild_id"])
        member = self._member(int(params["user_id"]))
        if route == "/guilds/{guild_id}/members/{user_id}":
            return 200, {"user": member.user, "roles": [str(r) for r in sorted(member.roles)], **_MEMBER_FIELDS}
        role_id = int(params["role_id"])
        if role_id not in self._roles:
            raise _Refusal(404, "Unknown Role", 10011)
        if not self.manage_roles or self._roles[role_id] >= self.bot_top_position:
            raise _Refusal(403, "Missing Permissions", 50013)
        if method == "PUT":
            member.roles.add(role_id)
        else:
            member.roles.discard(role_id)
        return 204, None

    def _guild(self, guild_id: str) -> None:
        if int(guild_id) != self.guild_id:
            raise _Refusal(404, "Unknown Guild", 10004)

    def _member(self, user_id: int) -> _Member:
        member = self._members.get(user_id)
        if member is None:
            raise _Refusal(404, "Unknown Member", 10007)
        return member

    def _open_dm(self, body: Json) -> Json:
        user_id = int(body.get("recipient_id") or 0)
        if user_id <= 0:
            raise _Refusal(400, "Invalid Form Body", 50035)
        channel_id = next((cid for cid, uid in self._dm_channels.items() if uid == user_id), None)
        if channel_id is None:
            channel_id = next(self._ids)
            self._dm_channels[channel_id] = user_id
        return {
            "id": str(channel_id),
            "type": 1,
            "last_message_id": None,
            "recipients": [self._user(user_id)],
            "flags": 0,
        }

    def _send(self, channel_id: int, body: Json) -> Json:
        user_id = self._dm_channels.get(channel_id)
        if user_id is None:
            raise _Refusal(404, "Unknown Channel", 10003)
        if user_id in self._dms_closed:
            raise _Refusal(403, "Cannot send messages to this user", 50007)
        content = str(body.get("content") or "")
        if not content and not body.get("components") and not body.get("embeds"):
            raise _Refusal(400, "Cannot send an empty message", 50006)
        message = {
            "id": str(next(self._ids)),
            "channel_id": str(channel_id),
            "author": self.bot_user,
            "content": content,
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": 0,
        }
        self._messages.append(message)
        return message

    def _user(self, user_id: int) -> Json:
        return {
            "id": str(user_id),
            "username": f"fan{user_id}",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
        }

    def _application(self) -> Json:
        return {
            "id": self.bot_user["id"],
            "name": "Storefront",
            "icon": None,
            "description": "",
            "bot_public": False,
            "bot_require_code_grant": False,
            "owner": self._user(1),
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
        }


def _json(body: Any, status: int, headers: dict[str, str]) -> web.Response:
    # Exactly "application/json", no charset: discord.py compares the header verbatim before parsing.
    return web.Response(
        body=json.dumps(body).encode(), status=status, headers={**headers, "Content-Type": "application/json"}
    )


_MEMBER_FIELDS: Json = {
    "nick": None,
    "avatar": None,
    "joined_at": "2026-01-01T00:00:00+00:00",
    "deaf": False,
    "mute": False,
    "flags": 0,
}

_ROUTES = [
    ("GET", "/users/@me"),
    ("GET", "/oauth2/applications/@me"),
    ("POST", "/users/@me/channels"),
    ("POST", "/channels/{channel_id}/messages"),
    ("GET", "/guilds/{guild_id}/members/{user_id}"),
    ("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}"),
    ("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}"),
]


def _route(method: str, path: str) -> tuple[str | None, dict[str, str]]:
    parts = path.rstrip("/").split("/")
    for route_method, template in _ROUTES:
        pattern = template.split("/")
        if route_method != method or len(pattern) != len(parts):
            continue
        params: dict[str, str] = {}
        for expected, actual in zip(pattern, parts, strict=True):
            if expected.startswith("{"):
                if not actual.isdigit():
                    break
                params[expected[1:-1]] = actual
            elif expected != actual:
                break
        else:
            return template, params
    return None, {}


def _bucket_hash(method: str, route: str) -> str:
    return hashlib.sha1(f"{method} {route}".encode()).hexdigest()[:12]


class _RateLimited(Exception):
    def __init__(self, retry_after: float, *, is_global: bool, bucket: str | None) -> None:
        super().__init__("rate limited")
        retry_after = round(retry_after, 3)
        self.body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
        self.headers = {
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "X-RateLimit-Scope": "global" if is_global else "user",
        }
        if is_global:
            self.headers["X-RateLimit-Global"] = "true"
        if bucket is not None:
            self.headers.update(
                {
                    "X-RateLimit-Limit": "1",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                    "X-RateLimit-Bucket": bucket,
                }
            )
