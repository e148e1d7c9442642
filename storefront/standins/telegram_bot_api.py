"""A stateful, in-memory stand-in of the Telegram Bot API, served by aiohttp on 127.0.0.1.

python-telegram-bot talks to it through its real HTTP path::

    async with TelegramBotApiStandIn(token) as telegram:
        app = (
            Application.builder().token(token)
            .base_url(f"{telegram.base_url}/bot").base_file_url(f"{telegram.base_url}/file/bot")
            .build()
        )

Answers like the Bot API: `{"ok": true, "result": ...}` or `{"ok": false, "error_code": N,
"description": ...}` with Telegram's own wording, HTTP status equal to `error_code`, 429 with
`parameters.retry_after` past the flood limits (sliding windows, overall and per chat), long polling
with `offset`/`timeout` and 409 when a newer getUpdates takes over. Requests may be query strings,
url-encoded or multipart forms (what PTB sends: non-string values JSON-encoded per field) or JSON bodies.
Every call is recorded in `calls`. Not thread-safe: use it from the event loop that serves it.
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from storefront.clock import Clock, SystemClock
from storefront.standins._loopback import LoopbackServer

__all__ = ["ApiCall", "PeakRates", "RateLimits", "TelegramBotApiStandIn", "Upload"]

Json = dict[str, Any]
Params = dict[str, Any]
ChatKey = int | str

DEFAULT_TOKEN = "123456789:AAStandInTokenForOfflineTests_0000000"

# Telegram's descriptions, as the official Bot API server words them.
_NOT_FOUND = "Not Found"
_UNAUTHORIZED = "Unauthorized"
_CHAT_ID_EMPTY = "Bad Request: chat_id is empty"
_CHAT_NOT_FOUND = "Bad Request: chat not found"
_BOT_BLOCKED = "Forbidden: bot was blocked by the user"
_TEXT_EMPTY = "Bad Request: message text is empty"
_TEXT_TOO_LONG = "Bad Request: message is too long"
_CAPTION_TOO_LONG = "Bad Request: message caption is too long"
_PARSE_MODE_UNSUPPORTED = "Bad Request: unsupported parse_mode"
_BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
_TEXT_BUTTON = "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
_MESSAGE_ID_MISSING = "Bad Request: message identifier is not specified"
_EDIT_NOT_FOUND = "Bad Request: message to edit not found"
_EDIT_NOT_ALLOWED = "Bad Request: message can't be edited"
_EDIT_NO_TEXT = "Bad Request: there is no text in the message to edit"
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_DELETE_NOT_FOUND = "Bad Request: message to delete not found"
_FILE_ID_INVALID = "Bad Request: wrong file identifier/HTTP URL specified"
_GET_FILE_INVALID = "Bad Request: invalid file_id"
_QUERY_ID_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_USER_ID_INVALID = "Bad Request: invalid user_id specified"
_PRIVATE_INVITE = "Bad Request: can't invite members to a private chat"
_PRIVATE_BAN = "Bad Request: can't ban members in private chats"
_PRIVATE_ONLY_GROUPS = "Bad Request: method is available only in supergroup and channel chats"
_PRIVATE_JOIN_REQUESTS = "Bad Request: the chat can't have join requests"
_LIMIT_WITH_APPROVAL = "Bad Request: member limit can't be specified for links requiring administrator approval"
_EXPIRE_DATE_INVALID = "Bad Request: EXPIRE_DATE_INVALID"
_USAGE_LIMIT_INVALID = "Bad Request: USAGE_LIMIT_INVALID"
_INVITE_HASH_INVALID = "Bad Request: INVITE_HASH_INVALID"
_ALREADY_PARTICIPANT = "Bad Request: USER_ALREADY_PARTICIPANT"
_NO_JOIN_REQUEST = "Bad Request: HIDE_REQUESTER_MISSING"
_RESTRICT_SELF = "Bad Request: can't restrict self"
_COMMAND_INVALID = "Bad Request: BOT_COMMAND_INVALID"
_COMMANDS_TOO_MUCH = "Bad Request: BOT_COMMANDS_TOO_MUCH"
_COMMAND_DESCRIPTION_EMPTY = "Bad Request: command description must be non-empty"
_POLL_CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"

# How form fields are decoded: PTB JSON-encodes every non-string value, one field at a time.
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "link_preview_options",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "reply_parameters",
        "media",
        "permissions",
    }
)
_INT_PARAMS = frozenset(
    {
        "chat_id",
        "user_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "member_limit",
        "expire_date",
        "until_date",
        "cache_time",
        "reply_to_message_id",
        "message_thread_id",
    }
)
_BOOL_PARAMS = frozenset(
    {
        "creates_join_request",
        "only_if_banned",
        "revoke_messages",
        "drop_pending_updates",
        "show_alert",
        "disable_notification",
        "protect_content",
        "disable_web_page_preview",
        "has_spoiler",
        "disable_content_type_detection",
        "allow_paid_broadcast",
        "show_caption_above_media",
    }
)
_INTEGER = re.compile(r"-?\d+")

_SEND_METHODS = frozenset({"sendMessage", "sendDocument", "sendPhoto"})
_DEFAULT_UPDATE_TYPES_OFF = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_MAX_TEXT = 4096
_MAX_CAPTION = 1024
_MAX_CALLBACK_DATA = 64
_MAX_COMMANDS = 100
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_BUTTON_ACTIONS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
# A ban shorter than 30 s or longer than 366 days is a ban forever, as on Telegram.
_MIN_BAN = 30
_MAX_BAN = 366 * 24 * 60 * 60
_PHOTO_SIZE = (800, 600)
_MEMBER_STATUSES = frozenset({"member", "left", "kicked", "administrator", "creator"})


@dataclass(frozen=True)
class RateLimits:
    """Flood limits on send*/edit* methods, in successful calls per sliding `window` seconds.

    Telegram's documented limits are about 30 messages per second overall and one per second per chat
    (20 per minute in groups); None switches a limit off.
    """

    overall_per_second: int | None = 30
    per_chat_per_second: int | None = 1
    window: float = 1.0


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(frozen=True)
class ApiCall:
    """One Bot API call as received: `at` is the stand-in's monotonic time when it was decoded.

    `outcome` is "ok" or the error code as text ("429", "403", "400", "404", "401", "409").
    `chat_id` is the chat the call was about (resolved from `@username`), if any.
    """

    method: str
    params: Params
    at: float
    outcome: str
    description: str | None = None
    result: Any = None
    chat_id: ChatKey | None = None
    uploads: dict[str, Upload] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass(frozen=True)
class PeakRates:
    """The most successful flood-limited calls seen in any one window, overall and per chat."""

    overall: int
    per_chat: dict[ChatKey, int]

    @property
    def busiest_chat(self) -> int:
        return max(self.per_chat.values(), default=0)


class _ApiError(Exception):
    """An error answered as the Bot API does."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> Json:
        body: Json = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad(description: str) -> _ApiError:
    return _ApiError(400, description)


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes | None
    file_name: str | None = None
    mime_type: str | None = None

    def as_document(self) -> Json:
        document: Json = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.file_name:
            document["file_name"] = self.file_name
        if self.mime_type:
            document["mime_type"] = self.mime_type
        if self.data is not None:
            document["file_size"] = len(self.data)
        return document


@dataclass
class _InviteLink:
    chat_id: int
    link: Json
    joined: set[int] = field(default_factory=set)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _coerce(name: str, value: Any) -> Any:
    """Decode one request field the way the Bot API reads it."""
    if isinstance(value, bytes | bytearray):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return value
    if name in _JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError as exc:
            raise _bad(f"Bad Request: can't parse {name.replace('_', ' ')} JSON object") from exc
    if name in _INT_PARAMS and _INTEGER.fullmatch(value.strip()):
        return int(value)
    if name in _BOOL_PARAMS:
        return value.strip().lower() in {"true", "1"}
    return value


async def _read_params(request: web.Request) -> tuple[Params, dict[str, Upload]]:
    """Query string, then a JSON, url-encoded or multipart body, decoded field by field."""
    raw: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as exc:
                raise _bad("Bad Request: can't parse JSON object") from exc
            if not isinstance(body, dict):
                raise _bad("Bad Request: JSON object expected")
            raw.update(body)
        elif request.content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    uploads[key] = Upload(value.filename, value.content_type, value.file.read())
                else:
                    raw[key] = value
    return {key: _coerce(key, value) for key, value in raw.items()}, uploads


# --- HTML parse mode -----------------------------------------------------------------------------------

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
}
_HTML_ESCAPES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s[^>]*)?)>")
_ESCAPE = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);")
_HREF = re.compile(r"""href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")


def _parse_html(text: str) -> tuple[str, list[Json]]:
    """Strip Telegram's HTML subset to plain text and entities (UTF-16 offsets), or fail like Telegram."""
    plain: list[str] = []
    position = 0
    open_tags: list[tuple[str, Json]] = []
    entities: list[Json] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "<":
            byte_offset = len(text[:index].encode())
            tag = _TAG.match(text, index)
            name = tag.group(2).lower() if tag else ""
            if tag is None or name not in _HTML_TAGS:
                raise _bad(
                    f'Bad Request: can\'t parse entities: Unsupported start tag "{name}" at byte offset {byte_offset}'
                )
            if tag.group(1):
                expected = open_tags[-1][0] if open_tags else ""
                if expected != name:
                    raise _bad(
                        f"Bad Request: can't parse entities: Unmatched end tag at byte offset "
                        f'{byte_offset}, expected "</{expected}>", found "</{name}>"'
                    )
                _, entity = open_tags.pop()
                entity["length"] = position - entity["offset"]
                if entity["length"] > 0:
                    entities.append(entity)
            else:
                entity = {"type": _HTML_TAGS[name], "offset": position}
                attributes = tag.group(3)
                if name == "a":
                    href = _HREF.search(attributes)
                    entity["url"] = next((group for group in href.groups() if group), "") if href else ""
                elif name == "span" and "tg-spoiler" not in attributes:
                    raise _bad(
                        f'Bad Request: can\'t parse entities: Tag "span" must have class "tg-spoiler" at '
                        f"byte offset {byte_offset}"
                    )
                elif name == "blockquote" and "expandable" in attributes:
                    entity["type"] = "expandable_blockquote"
                open_tags.append((name, entity))
            index = tag.end()
            continue
        if char == "&" and (escape := _ESCAPE.match(text, index)):
            body = escape.group(1)
            if body.startswith("#x"):
                char = chr(int(body[2:], 16))
            elif body.startswith("#"):
                char = chr(int(body[1:]))
            else:
                char = _HTML_ESCAPES.get(body.lower(), escape.group(0))
            index = escape.end()
        else:
            index += 1
        plain.append(char)
        position += _utf16_len(char)
    if open_tags:
        raise _bad(
            f"Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"{open_tags[-1][0]}\""
        )
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return "".join(plain), entities


def _peak(times: Iterable[float], window: float) -> int:
    """The most events within any half-open window (t - window, t]."""
    ordered = sorted(times)
    best = start = 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def _is_flood_limited(method: str) -> bool:
    return (method.startswith("send") and method != "sendChatAction") or method.startswith("edit")


class TelegramBotApiStandIn(LoopbackServer):
    """An in-memory Telegram Bot API on 127.0.0.1 that the real python-telegram-bot can call.

    Chats are created on first use (positive ids private, negative ids supergroups) unless
    `auto_create_chats` is False; `forbid_chat` makes one unknown. `clock` dates messages, invite links
    and bans; `timer` (monotonic seconds) stamps calls and drives the flood windows.
    """

    name = "Telegram stand-in"

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "storefront_test_bot",
        limits: RateLimits | None = None,
        auto_create_chats: bool = True,
        port: int = 0,
        clock: Clock | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        bot_id, _, secret = token.partition(":")
        if not bot_id.isdigit() or not secret:
            raise ValueError("A bot token looks like '<bot id>:<secret>'.")
        self.token = token
        self.limits = limits or RateLimits()
        self.auto_create_chats = auto_create_chats
        self.calls: list[ApiCall] = []
        self.bot_user: Json = {
            "id": int(bot_id),
            "is_bot": True,
            "first_name": "Storefront",
            "username": bot_username,
        }
        super().__init__(port)
        self._clock = clock or SystemClock()
        self._timer = timer
        self._users: dict[int, Json] = {}
        self._chats: dict[int, Json] = {}
        self._forbidden_chats: set[ChatKey] = set()
        self._blocked_users: set[int] = set()
        self._messages: dict[tuple[int, int], Json] = {}
        self._last_message_id: dict[int, int] = {}
        self._files: dict[str, _StoredFile] = {}
        self._invite_links: dict[str, _InviteLink] = {}
        self._members: dict[tuple[int, int], tuple[str, int]] = {}
        self._join_requests: dict[tuple[int, int], Json] = {}
        self._callback_queries: set[str] = set()
        self._commands: dict[tuple[str, str], list[Json]] = {}
        self._recent_sends: deque[tuple[float, ChatKey]] = deque()
        self._updates: list[Json] = []
        self._next_update_id = 100_000_001
        self._allowed_updates: frozenset[str] | None = None
        self._update_arrived = asyncio.Event()
        self._poll_generation = 0
        self._stopping = False
        self._serial = 0
        self._methods: dict[str, Callable[[Params, dict[str, Upload], float], Any]] = {
            "getMe": self._get_me,
            "deleteWebhook": self._delete_webhook,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "sendChatAction": self._send_chat_action,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "getFile": self._get_file,
            "answerCallbackQuery": self._answer_callback_query,
            "createChatInviteLink": self._create_chat_invite_link,
            "revokeChatInviteLink": self._revoke_chat_invite_link,
            "approveChatJoinRequest": self._approve_chat_join_request,
            "declineChatJoinRequest": self._decline_chat_join_request,
            "banChatMember": self._ban_chat_member,
            "unbanChatMember": self._unban_chat_member,
            "getChatMember": self._get_chat_member,
            "getChat": self._get_chat,
        }
        # Telegram matches method names case-insensitively.
        self._method_names = {name.lower(): name for name in [*self._methods, "getUpdates"]}

    # --- lifecycle -------------------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        self._stopping = False
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/file/bot{token}/{file_path:.+}", self._serve_file)
        app.router.add_route("*", "/bot{token}/{method}", self._serve_method)
        app.router.add_route("*", "/{tail:.*}", self._serve_not_found)
        return app

    async def _before_stop(self) -> None:
        """Waiting long polls return at once."""
        self._stopping = True
        self._wake_pollers()

    # --- arranging the world ---------------------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> Json:
        """Register (or rename) a Telegram user."""
        user: Json = {"id": user_id, "is_bot": False, "first_name": first_name or f"Fan {user_id}"}
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._users[user_id] = user
        if user_id in self._chats:
            self._chats[user_id] = self._private_chat(user)
        return copy.deepcopy(user)

    def add_chat(
        self, chat_id: int, *, type: str | None = None, title: str | None = None, username: str | None = None
    ) -> Json:
        """Register a chat: private for positive ids, else a supergroup (or the given `type`)."""
        self._forbidden_chats.discard(chat_id)
        if chat_id > 0 and type in {None, "private"}:
            chat = self._private_chat(self._user(chat_id))
        else:
            chat = {"id": chat_id, "type": type or "supergroup", "title": title or f"Chat {chat_id}"}
            if username:
                chat["username"] = username
        self._chats[chat_id] = chat
        return copy.deepcopy(chat)

    def forbid_chat(self, chat_id: ChatKey) -> None:
        """Make a chat unknown to the bot: calls about it get 400 'chat not found'."""
        self._forbidden_chats.add(chat_id)
        if isinstance(chat_id, int):
            self._chats.pop(chat_id, None)

    def block_user(self, user_id: int) -> None:
        """The user blocks the bot: sends to their private chat get 403."""
        self._blocked_users.add(user_id)

    def unblock_user(self, user_id: int) -> None:
        self._blocked_users.discard(user_id)

    def set_member_status(self, chat_id: int, user_id: int, status: str, *, until_date: int = 0) -> None:
        """Put a user in a chat as "member", "left", "kicked", "administrator" or "creator"."""
        if status not in _MEMBER_STATUSES:
            raise ValueError(f"Unsupported member status {status!r}; use one of {sorted(_MEMBER_STATUSES)}.")
        self._resolve_chat(chat_id)
        self._user(user_id)
        self._members[(chat_id, user_id)] = (status, until_date)

    def member_status(self, chat_id: int, user_id: int) -> str:
        """The user's status in the chat, as getChatMember would report it."""
        status, until_date = self._members.get((chat_id, user_id), ("left", 0))
        if status == "kicked" and until_date and until_date <= self._now():
            return "left"
        return status

    # --- pushing updates -------------------------------------------------------------------------------

    def push_update(self, update: Json) -> Json:
        """Queue an update for getUpdates (an `update_id` is assigned if missing); returns it."""
        update = copy.deepcopy(update)
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, int(update["update_id"])) + 1
        self._updates.append(update)
        self._wake_pollers()
        return copy.deepcopy(update)

    def push_message(self, chat_id: int, user_id: int, text: str) -> Json:
        """A user writes `text` in a chat (a leading `/command` gets its bot_command entity)."""
        chat = self._resolve_chat(chat_id)
        message = self._store_message(chat, {"from": self._user(user_id), "text": text})
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]
        return self.push_update({"message": copy.deepcopy(message)})

    def push_callback_query(self, user_id: int, data: str, message: Json | None = None) -> Json:
        """A user presses an inline button with `data` (on `message`, e.g. one of `sent_messages()`)."""
        query_id = str(self._next_serial() * 1_000_003 + user_id)
        self._callback_queries.add(query_id)
        query: Json = {
            "id": query_id,
            "from": self._user(user_id),
            "chat_instance": str(-(user_id * 7919)),
            "data": data,
        }
        if message is not None:
            query["message"] = copy.deepcopy(message)
        return self.push_update({"callback_query": query})

    def push_chat_join_request(self, chat_id: int, user_id: int, invite_link: str | None = None) -> Json:
        """A user asks to join a chat (through `invite_link`, if given); the bot may approve or decline."""
        chat = self._resolve_chat(chat_id)
        request: Json = {"chat": chat, "from": self._user(user_id), "user_chat_id": user_id, "date": self._now()}
        if invite_link is not None:
            known = self._invite_links.get(invite_link)
            request["invite_link"] = (
                copy.deepcopy(known.link)
                if known
                else {
                    "invite_link": invite_link,
                    "creator": self.bot_user,
                    "creates_join_request": True,
                    "is_primary": False,
                    "is_revoked": False,
                }
            )
        self._join_requests[(chat_id, user_id)] = request
        return self.push_update({"chat_join_request": request})

    def join_by_link(self, user_id: int, invite_link: str) -> str:
        """A user opens an invite link: "joined", "requested" (join request pushed), "already_member",
        or refused as "revoked", "expired", "full" or "banned"."""
        known = self._invite_links.get(invite_link)
        if known is None:
            raise KeyError(f"No invite link {invite_link!r} was created in this stand-in.")
        link, chat_id = known.link, known.chat_id
        status = self.member_status(chat_id, user_id)
        if link["is_revoked"]:
            return "revoked"
        if link.get("expire_date") and link["expire_date"] <= self._now():
            return "expired"
        if status == "kicked":
            return "banned"
        if status in {"member", "administrator", "creator"}:
            return "already_member"
        if link["creates_join_request"]:
            self.push_chat_join_request(chat_id, user_id, invite_link)
            return "requested"
        still_in = {joined for joined in known.joined if self.member_status(chat_id, joined) == "member"}
        if "member_limit" in link and len(still_in) >= link["member_limit"]:
            return "full"
        known.joined.add(user_id)
        self._members[(chat_id, user_id)] = ("member", 0)
        return "joined"

    # --- inspecting what the bot did -------------------------------------------------------------------

    def calls_to(self, method: str, *, outcome: str | None = None) -> list[ApiCall]:
        """Recorded calls of one method, optionally only those with one outcome ("ok", "429", ...)."""
        return [call for call in self.calls if call.method == method and (outcome is None or call.outcome == outcome)]

    def count(self, method: str, *, outcome: str | None = None) -> int:
        return len(self.calls_to(method, outcome=outcome))

    def sent_messages(self, chat_id: ChatKey | None = None) -> list[Json]:
        """Messages the bot sent successfully (sendMessage/sendDocument/sendPhoto), as answered, in order."""
        return [
            copy.deepcopy(call.result)
            for call in self.calls
            if call.ok and call.method in _SEND_METHODS and (chat_id is None or call.chat_id == chat_id)
        ]

    def message(self, chat_id: int, message_id: int) -> Json | None:
        """A message as it stands now (after edits), or None if deleted or never sent."""
        found = self._messages.get((chat_id, message_id))
        return copy.deepcopy(found) if found else None

    def max_rate_observed(self, window: float = 1.0) -> PeakRates:
        """The peak number of successful send*/edit* calls in any `window` seconds, overall and per chat."""
        sends = [(call.at, call.chat_id) for call in self.calls if call.ok and _is_flood_limited(call.method)]
        by_chat: dict[ChatKey, list[float]] = {}
        for moment, chat in sends:
            if chat is not None:
                by_chat.setdefault(chat, []).append(moment)
        return PeakRates(
            overall=_peak((moment for moment, _ in sends), window),
            per_chat={chat: _peak(moments, window) for chat, moments in by_chat.items()},
        )

    # --- HTTP ------------------------------------------------------------------------------------------

    async def _serve_method(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        method = self._method_names.get(name.lower(), name)
        params: Params = {}
        uploads: dict[str, Upload] = {}
        at = self._timer()
        try:
            if request.match_info["token"] != self.token:
                raise _ApiError(401, _UNAUTHORIZED)
            params, uploads = await _read_params(request)
            at = self._timer()
            if method == "getUpdates":
                result = await self._get_updates(params)
            elif method in self._methods:
                result = self._methods[method](params, uploads, at)
            else:
                raise _ApiError(404, _NOT_FOUND)
        except _ApiError as error:
            self._record(method, params, at, str(error.code), uploads, description=error.description)
            return web.json_response(error.payload(), status=error.code)
        chat_id = self._record(method, params, at, "ok", uploads, result=result)
        if _is_flood_limited(method) and chat_id is not None:
            self._recent_sends.append((at, chat_id))
        return web.json_response({"ok": True, "result": result})

    async def _serve_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(_ApiError(401, _UNAUTHORIZED).payload(), status=401)
        path = request.match_info["file_path"]
        stored = next((item for item in self._files.values() if item.file_path == path), None)
        if stored is None or stored.data is None:
            return web.json_response(_ApiError(404, _NOT_FOUND).payload(), status=404)
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    async def _serve_not_found(self, request: web.Request) -> web.Response:
        return web.json_response(_ApiError(404, _NOT_FOUND).payload(), status=404)

    def _record(
        self,
        method: str,
        params: Params,
        at: float,
        outcome: str,
        uploads: dict[str, Upload],
        *,
        description: str | None = None,
        result: Any = None,
    ) -> ChatKey | None:
        chat_id = params.get("chat_id")
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            chat_id = next(
                (chat["id"] for chat in self._chats.values() if chat.get("username") == chat_id[1:]), chat_id
            )
        self.calls.append(
            ApiCall(
                method=method,
                params=params,
                at=at,
                outcome=outcome,
                description=description,
                result=copy.deepcopy(result),
                chat_id=chat_id,
                uploads=uploads,
            )
        )
        return chat_id

    # --- getUpdates ------------------------------------------------------------------------------------

    def _wake_pollers(self) -> None:
        self._update_arrived.set()
        self._update_arrived = asyncio.Event()

    async def _get_updates(self, params: Params) -> list[Json]:
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()  # an older long poll answers 409, as on Telegram
        if "allowed_updates" in params:
            allowed = params["allowed_updates"] or []
            self._allowed_updates = frozenset(allowed) if allowed else None
        offset = int(params.get("offset") or 0)
        if offset < 0:
            self._updates = self._updates[offset:]
        elif offset:
            self._updates = [update for update in self._updates if update["update_id"] >= offset]
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        deadline = asyncio.get_running_loop().time() + max(float(params.get("timeout") or 0), 0.0)
        while True:
            ready = self._deliverable(limit)
            remaining = deadline - asyncio.get_running_loop().time()
            if ready or remaining <= 0 or self._stopping:
                return ready
            arrived = self._update_arrived
            try:
                await asyncio.wait_for(arrived.wait(), remaining)
            except TimeoutError:
                return self._deliverable(limit)
            if generation != self._poll_generation:
                raise _ApiError(409, _POLL_CONFLICT)

    def _deliverable(self, limit: int) -> list[Json]:
        def allowed(update: Json) -> bool:
            kind = next((key for key in update if key != "update_id"), "")
            if self._allowed_updates is None:
                return kind not in _DEFAULT_UPDATE_TYPES_OFF
            return kind in self._allowed_updates

        self._updates = [update for update in self._updates if allowed(update)]
        return copy.deepcopy(self._updates[:limit])

    # --- shared helpers --------------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self._clock.now().timestamp())

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def _user(self, user_id: int) -> Json:
        if user_id not in self._users:
            self.add_user(user_id)
        return copy.deepcopy(self._users[user_id])

    @staticmethod
    def _private_chat(user: Json) -> Json:
        chat: Json = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        if "username" in user:
            chat["username"] = user["username"]
        return chat

    def _resolve_chat(self, chat_id: Any) -> Json:
        if chat_id is None or chat_id == "":
            raise _bad(_CHAT_ID_EMPTY)
        if isinstance(chat_id, str):
            found = next(
                (
                    chat
                    for chat in self._chats.values()
                    if chat_id.startswith("@") and chat.get("username") == chat_id[1:]
                ),
                None,
            )
            if found is None or chat_id in self._forbidden_chats:
                raise _bad(_CHAT_NOT_FOUND)
            return copy.deepcopy(found)
        if not isinstance(chat_id, int) or chat_id == 0 or chat_id in self._forbidden_chats:
            raise _bad(_CHAT_NOT_FOUND)
        if chat_id not in self._chats:
            if not self.auto_create_chats:
                raise _bad(_CHAT_NOT_FOUND)
            self.add_chat(chat_id)
        return copy.deepcopy(self._chats[chat_id])

    def _group_chat(self, params: Params, private_error: str) -> Json:
        chat = self._resolve_chat(params.get("chat_id"))
        if chat["type"] == "private":
            raise _bad(private_error)
        return chat

    def _user_id(self, params: Params) -> int:
        user_id = params.get("user_id")
        if not isinstance(user_id, int) or user_id <= 0:
            raise _bad(_USER_ID_INVALID)
        return user_id

    def _admit_send(self, chat: Json, at: float, *, blockable: bool = True) -> None:
        """Refuse a send to a user who blocked the bot, then apply the flood limits."""
        if blockable and chat["type"] == "private" and chat["id"] in self._blocked_users:
            raise _ApiError(403, _BOT_BLOCKED)
        window = self.limits.window
        while self._recent_sends and self._recent_sends[0][0] <= at - window:
            self._recent_sends.popleft()
        waits: list[float] = []
        overall = self.limits.overall_per_second
        if overall is not None and len(self._recent_sends) >= overall:
            waits.append(self._recent_sends[len(self._recent_sends) - overall][0] + window - at)
        per_chat = self.limits.per_chat_per_second
        in_chat = [moment for moment, key in self._recent_sends if key == chat["id"]]
        if per_chat is not None and len(in_chat) >= per_chat:
            waits.append(in_chat[len(in_chat) - per_chat] + window - at)
        if waits:
            retry_after = max(1, math.ceil(max(waits)))
            raise _ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)

    def _formatted(self, params: Params, text_key: str, entities_key: str) -> tuple[str, list[Json] | None]:
        text = str(params.get(text_key) or "")
        parse_mode = params.get("parse_mode")
        if parse_mode is None or parse_mode == "":
            entities = params.get(entities_key)
            return text, (list(entities) if entities else None)
        mode = str(parse_mode).lower()
        if mode == "html":
            plain, entities = _parse_html(text)
            return plain, entities or None
        if mode in {"markdown", "markdownv2"}:
            return text, None  # kept verbatim: Markdown is not parsed by this stand-in
        raise _bad(_PARSE_MODE_UNSUPPORTED)

    @staticmethod
    def _inline_keyboard(params: Params) -> Json | None:
        """The inline keyboard a message will carry; other reply markups are not shown on messages."""
        markup = params.get("reply_markup")
        if not isinstance(markup, dict) or not markup.get("inline_keyboard"):
            return None
        for row in markup["inline_keyboard"]:
            for button in row:
                if not isinstance(button, dict) or not _BUTTON_ACTIONS.intersection(button):
                    raise _bad(_TEXT_BUTTON)
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= _MAX_CALLBACK_DATA:
                    raise _bad(_BUTTON_DATA_INVALID)
        return {"inline_keyboard": markup["inline_keyboard"]}

    def _store_message(self, chat: Json, content: Json) -> Json:
        message_id = self._last_message_id.get(chat["id"], 0) + 1
        self._last_message_id[chat["id"]] = message_id
        message: Json = {"message_id": message_id, "date": self._now(), "chat": chat}
        message.update({key: value for key, value in content.items() if value is not None})
        self._messages[(chat["id"], message_id)] = message
        return message

    def _bot_message(self, chat: Json, content: Json) -> Json:
        sender = {"sender_chat": chat} if chat["type"] == "channel" else {"from": self.bot_user}
        return copy.deepcopy(self._store_message(chat, {**sender, **content}))

    def _input_file(self, params: Params, uploads: dict[str, Upload], name: str, folder: str) -> _StoredFile:
        value = params.get(name)
        upload = uploads.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = uploads.get(value.removeprefix("attach://"))
        if upload is not None:
            return self._store_file(folder, upload.data, upload.filename, upload.content_type)
        if not isinstance(value, str) or not value:
            raise _bad(f"Bad Request: there is no {name} in the request")
        if value in self._files:
            return self._files[value]
        if value.startswith(("http://", "https://")):
            return self._store_file(folder, None, value.rsplit("/", 1)[-1] or None, None)
        raise _bad(_FILE_ID_INVALID)

    def _store_file(self, folder: str, data: bytes | None, file_name: str | None, mime: str | None) -> _StoredFile:
        serial = self._next_serial()
        extension = file_name.rsplit(".", 1)[-1] if file_name and "." in file_name else "bin"
        stored = _StoredFile(
            file_id=f"BQACAgIAAxk{secrets.token_urlsafe(24)}",
            file_unique_id=f"AgAD{secrets.token_hex(6)}",
            file_path=f"{folder}/file_{serial}.{extension}",
            data=data,
            file_name=file_name,
            mime_type=mime,
        )
        self._files[stored.file_id] = stored
        return stored

    def _caption(self, params: Params) -> tuple[str | None, list[Json] | None]:
        caption, entities = self._formatted(params, "caption", "caption_entities")
        if len(caption) > _MAX_CAPTION:
            raise _bad(_CAPTION_TOO_LONG)
        return caption or None, entities

    def _editable(self, params: Params) -> Json:
        chat = self._resolve_chat(params.get("chat_id"))
        message_id = params.get("message_id")
        if not isinstance(message_id, int) or message_id <= 0:
            raise _bad(_MESSAGE_ID_MISSING)
        message = self._messages.get((chat["id"], message_id))
        if message is None:
            raise _bad(_EDIT_NOT_FOUND)
        if message.get("from", {}).get("id") != self.bot_user["id"] and "sender_chat" not in message:
            raise _bad(_EDIT_NOT_ALLOWED)
        return message

    # --- methods: bot, webhook, commands ---------------------------------------------------------------

    def _get_me(self, params: Params, uploads: dict[str, Upload], at: float) -> Json:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _delete_webhook(self, params: Params, uploads: dict[str, Upload], at: float) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    @staticmethod
    def _commands_key(params: Params) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _set_my_commands(self, params: Params, uploads: dict[str, Upload], at: float) -> bool:
        commands = params.get("commands") or []
        if len(commands) > _MAX_COMMANDS:
            raise _bad(_COMMANDS_TOO_MUCH)
        for command in commands:
            if not _COMMAND.fullmatch(str(command.get("command", "")).removeprefix("/")):
                raise _bad(_COMMAND_INVALID)
            if not str(command.get("description", "")).strip():
                raise _bad(_COMMAND_DESCRIPTION_EMPTY)
        self._commands[self._commands_key(params)] = [
            {"command": str(command["command"]).removeprefix("/"), "description": command["description"]}
            for command in commands
        ]
        return True

    def _get_my_commands(self, params: Params, uploads: dict[str, Upload], at: float) -> list[Json]:
        return copy.deepcopy(self._commands.get(self._commands_key(params), []))

    def _delete_my_commands(self, params: Params, uploads: dict[str, Upload], at: float) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    # --- methods: messages -----------------------------------------------------------------------------

    def _send_message(self, params: Params, uploads: dict[str, Upload], at: float) -> Json:
        text, entities = self._formatted(params, "text", "entities")
        if not text.strip():
            raise _bad(_TEXT_EMPTY)
        if len(text) > _MAX_TEXT:
            raise _bad(_TEXT_TOO_LONG)
        keyboard = self._inline_keyboard(params)
        chat = self._resolve_chat(params.get("chat_id"))
        self._admit_send(chat, at)
        return self._bot_message(
            chat,
            {
                "text": text,
                "entities": entities,
                "reply_markup": keyboard,
                "link_preview_options": params.get("link_preview_options"),
            },
        )

    def _send_document(self, params: Params, uploads: dict[str, Upload], at: float) -> Json:
        caption, entities = self._caption(params)
        keyboard = self._inline_keyboard(params)
        chat = self._resolve_chat(params.get("chat_id"))
        stored = self._input_file(params, uploads, "document", "documents")
        self._admit_send(chat, at)
        return self._bot_message(
            chat,
            {
                "document": stored.as_document(),
                "caption": caption,
                "caption_entities": entities,
                "reply_markup": keyboard,
            },
        )

    def _send_photo(self, params: Params, uploads: dict[str, Upload], at: float) -> Json:
        caption, entities = self._caption(params)
        keyboard = self._inline_keyboard(params)
        chat = self._resolve_chat(params.get("chat_id"))
        stored = self._input_file(params, uploads, "photo", "photos")
        self._admit_send(chat, at)
        width, height = _PHOTO_SIZE
        size: Json = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": width,
            "height": height,
        }
        if stored.data is not None:
            size["file_size"] = len(stored.data)
        return self._bot_message(
            chat,
            {
                "photo": [size],
                "caption": caption,
                "caption_entities": entities,
                "reply_markup": keyboard,
            },
        )

    def _send_chat_action(self, params: Params, uploads: dict[str, Upload], at: float) -> bool:
        chat = self._resolve_chat(params.get("chat_id"))
        if chat["type"] == "private" and chat["id"] in self._blocked_users:
            raise _ApiError(403, _BOT_BLOCKED)
        return True

    def _edit_message_text(self, params: Params, uploads: dict[str, Upload], at: float) -> Json | bool:
        if params.get("inline_message_id"):
            return True
        text, entities = self._formatted(params, "text", "entities")
        if not text.strip():
            raise _bad(_TEXT_EMPTY)
        if len(text) > _MAX_TEXT:
            raise _bad(_TEXT_TOO_LONG)
        keyboard = self._inline_keyboard(params)
        message = self._editable(params)
        if "text" not in message:
            raise _bad(_EDIT_NO_TEXT)
        # Like Telegram, an edit without reply_markup removes the inline keyboard.
        if (message["text"], message.get("entities"), message.get("reply_markup")) == (text, entities, keyboard):
            raise _bad(_NOT_MODIFIED)
        self._admit_send(message["chat"], at, blockable=False)
        return self._apply_edit(message, {"text": text, "entities": entities, "reply_markup": keyboard})

    def _edit_message_reply_markup(self, params: Params, uploads: dict[str, Upload], at: float) -> Json | bool:
        if params.get("inline_message_id"):
            return True
        keyboard = self._inline_keyboard(params)
        message = self._editable(params)
        if message.get("reply_markup") == keyboard:
            raise _bad(_NOT_MODIFIED)
        self._admit_send(message["chat"], at, blockable=False)
        return self._apply_edit(message, {"reply_markup": keyboard})

    def _apply_edit(self, message: Json, changes: Json) -> Json:
        for key, value in changes.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        message["edit_date"] = self._now()
        return copy.deepcopy(message)

    def _delete_message(self, params: Params, uploads: dict[str, Upload], at: float) -> bool:
        chat = self._resolve_chat(params.get("chat_id"))
        if self._messages.pop((chat["id"], params.get("message_id")), None) is None:
            raise _bad(_DELETE_NOT_FOUND)
        return True

    def _get_file(self, params: Params, uploads: dict[str, Upload], at: float) -> Json:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _bad(_GET_FILE_INVALID)
        result: Json = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_path": stored.file_path,
        }
        if stored.data is not None:
            result["file_size"] = len(stored.data)
        return result

    def _answer_callback_query(self, params: Params, uploads: dict[str, Upload], at: float) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._callback_queries:
            raise _bad(_QUERY_ID_INVALID)
        self._callback_queries.discard(query_id)
        return True

    # --- methods: chats, invite links, members ---------------------------------------------------------

    def _create_chat_invite_link(self, params: Params, uploads: dict[str, Upload], at: float) -> Json:
        chat = self._group_chat(params, _PRIVATE_INVITE)
        approval = bool(params.get("creates_join_request"))
        member_limit = params.get("member_limit")
        expire_date = params.get("expire_date")
        if approval and member_limit:
            raise _bad(_LIMIT_WITH_APPROVAL)
        if member_limit is not None and not (isinstance(member_limit, int) and 1 <= member_limit <= 99_999):
            raise _bad(_USAGE_LIMIT_INVALID)
        if expire_date and (not isinstance(expire_date, int) or expire_date <= self._now()):
            raise _bad(_EXPIRE_DATE_INVALID)
        link: Json = {
            "invite_link": f"https://t.me/+{secrets.token_urlsafe(12)}",
            "creator": self.bot_user,
            "creates_join_request": approval,
            "is_primary": False,
            "is_revoked": False,
        }
        for key in ("name", "expire_date", "member_limit"):
            if params.get(key):
                link[key] = params[key]
        self._invite_links[link["invite_link"]] = _InviteLink(chat_id=chat["id"], link=link)
        return copy.deepcopy(link)

    def _revoke_chat_invite_link(self, params: Params, uploads: dict[str, Upload], at: float) -> Json:
        chat = self._group_chat(params, _PRIVATE_INVITE)
        known = self._invite_links.get(str(params.get("invite_link") or ""))
        if known is None or known.chat_id != chat["id"]:
            raise _bad(_INVITE_HASH_INVALID)
        known.link["is_revoked"] = True
        return copy.deepcopy(known.link)

    def _approve_chat_join_request(self, params: Params, uploads: dict[str, Upload], at: float) -> bool:
        chat = self._group_chat(params, _PRIVATE_JOIN_REQUESTS)
        user_id = self._user_id(params)
        if self.member_status(chat["id"], user_id) in {"member", "administrator", "creator"}:
            raise _bad(_ALREADY_PARTICIPANT)
        request = self._join_requests.pop((chat["id"], user_id), None)
        if request is None:
            raise _bad(_NO_JOIN_REQUEST)
        self._members[(chat["id"], user_id)] = ("member", 0)
        link = request.get("invite_link", {}).get("invite_link")
        if link in self._invite_links:
            self._invite_links[link].joined.add(user_id)
        return True

    def _decline_chat_join_request(self, params: Params, uploads: dict[str, Upload], at: float) -> bool:
        chat = self._group_chat(params, _PRIVATE_JOIN_REQUESTS)
        if self._join_requests.pop((chat["id"], self._user_id(params)), None) is None:
            raise _bad(_NO_JOIN_REQUEST)
        return True

    def _ban_chat_member(self, params: Params, uploads: dict[str, Upload], at: float) -> bool:
        chat = self._group_chat(params, _PRIVATE_BAN)
        user_id = self._user_id(params)
        if user_id == self.bot_user["id"]:
            raise _bad(_RESTRICT_SELF)
        until_date = int(params.get("until_date") or 0)
        if not _MIN_BAN <= until_date - self._now() <= _MAX_BAN:
            until_date = 0
        self._user(user_id)
        self._members[(chat["id"], user_id)] = ("kicked", until_date)
        self._join_requests.pop((chat["id"], user_id), None)
        return True

    def _unban_chat_member(self, params: Params, uploads: dict[str, Upload], at: float) -> bool:
        chat = self._group_chat(params, _PRIVATE_ONLY_GROUPS)
        user_id = self._user_id(params)
        status = self.member_status(chat["id"], user_id)
        if params.get("only_if_banned") and status != "kicked":
            return True
        # Like Telegram: without only_if_banned, "unbanning" a member removes them from the chat.
        if status in {"kicked", "member"}:
            self._members[(chat["id"], user_id)] = ("left", 0)
        return True

    def _get_chat_member(self, params: Params, uploads: dict[str, Upload], at: float) -> Json:
        chat = self._resolve_chat(params.get("chat_id"))
        user_id = self._user_id(params)
        if user_id == self.bot_user["id"]:
            rights = dict.fromkeys(
                (
                    "can_manage_chat",
                    "can_delete_messages",
                    "can_manage_video_chats",
                    "can_restrict_members",
                    "can_change_info",
                    "can_invite_users",
                    "can_pin_messages",
                ),
                True,
            )
            rights.update(
                dict.fromkeys(
                    (
                        "can_be_edited",
                        "is_anonymous",
                        "can_promote_members",
                        "can_post_stories",
                        "can_edit_stories",
                        "can_delete_stories",
                        "can_manage_topics",
                    ),
                    False,
                )
            )
            return {"status": "administrator", "user": self.bot_user, **rights}
        status = self.member_status(chat["id"], user_id)
        if chat["type"] == "private" and chat["id"] == user_id:
            status = "member"
        member: Json = {"status": status, "user": self._user(user_id)}
        if status == "kicked":
            member["until_date"] = self._members[(chat["id"], user_id)][1]
        elif status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update({"can_be_edited": False, "is_anonymous": False, "can_manage_chat": True})
        return member

    def _get_chat(self, params: Params, uploads: dict[str, Upload], at: float) -> Json:
        chat = self._resolve_chat(params.get("chat_id"))
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
