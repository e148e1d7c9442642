"""The drop commands on THE command table: `/drop` for creators, `/claim`, `/waitlist`, `/notify` for fans.

Importing this module declares them on `bots.commands.COMMANDS`. Handlers parse, call `DropService`, render;
every drop refusal is a `DropError` whose text is the one line shown.
"""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator

from bots.command_table import Args, Invocation, arg
from bots.commands import COMMANDS
from bots.permissions import Audience
from bots.rendering import Button, Outcome, Reply
from drops import (
    BadDropInput,
    DropInput,
    DropPhase,
    DropView,
    EditDrop,
    HoldView,
    LimitReached,
    SoldOut,
    countdown_text,
    format_duration,
)
from storefront.errors import StorefrontError

if TYPE_CHECKING:
    from bots.services import BotServices
    from drops import DropService

__all__ = ["CREATE_USAGE", "EDIT_USAGE", "DropsUnavailable", "drop_service", "parse_create", "parse_edit"]

CREATE_USAGE = (
    '/drop create "TITLE" PRICE SUPPLY OPENS_AT [CLOSES_AT] [early=TIERS] [early_minutes=N] [limit=N] '
    '[description="..."], e.g. /drop create "Midnight print" 15.00USD 100 2026-12-01T18:00+01:00 early=fan'
)
EDIT_USAGE = "/drop edit ID field=value..., e.g. /drop edit 3 supply=150 opens=2026-12-02T18:00+01:00"

# What a creator may type before `=`, and the drop field it sets.
_FIELDS = {
    "title": "title",
    "price": "price",
    "supply": "supply",
    "opens": "opens_at",
    "opens_at": "opens_at",
    "closes": "closes_at",
    "closes_at": "closes_at",
    "early": "early_access_tiers",
    "early_tiers": "early_access_tiers",
    "early_access_tiers": "early_access_tiers",
    "early_minutes": "early_access_minutes",
    "early_access_minutes": "early_access_minutes",
    "limit": "per_person_limit",
    "per_person_limit": "per_person_limit",
    "description": "description",
    "about": "description",
    "asset": "asset",
}
_POSITIONAL = ("title", "price", "supply", "opens_at", "closes_at")
# Phones turn typed double quotes into curly ones; read them as the quotes people meant.
_CURLY_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"'})


class DropsUnavailable(StorefrontError):
    def __init__(self) -> None:
        super().__init__("Drops are not set up on this shop.")


def drop_service(services: BotServices) -> DropService:
    """The app's DropService, from `services.drops` or the app the services were built from."""
    found = getattr(services, "drops", None) or getattr(getattr(services, "app", None), "drops", None)
    if found is None:
        raise DropsUnavailable()
    return found


# --- reading what a creator typed --------------------------------------------------------------------------


def _words(text: str | None, usage: str) -> list[str]:
    # Only double quotes group words, so an apostrophe in "Kim's print" is just a letter.
    lexer = shlex.shlex((text or "").translate(_CURLY_QUOTES), posix=True)
    lexer.whitespace_split, lexer.quotes, lexer.commenters = True, '"', ""
    try:
        return list(lexer)
    except ValueError:
        raise BadDropInput("input", f"a quote is not closed; {usage}") from None


def _named(word: str) -> tuple[str, str] | None:
    key, sep, value = word.partition("=")
    if not sep or key.lower() not in _FIELDS:
        return None
    return _FIELDS[key.lower()], value


def parse_create(text: str | None) -> DropInput:
    """`"TITLE" PRICE SUPPLY OPENS_AT [CLOSES_AT] [field=value...]` as a DropInput; refusals are one line."""
    fields: dict[str, Any] = {}
    positional: list[str] = []
    for word in _words(text, f"usage: {CREATE_USAGE}"):
        named = _named(word)
        if named is None:
            positional.append(word)
        elif named[0] in fields:
            raise BadDropInput(named[0], "is given twice")
        else:
            fields[named[0]] = named[1]
    if len(positional) > len(_POSITIONAL):
        raise BadDropInput("input", f"too many values (quote a title with spaces); usage: {CREATE_USAGE}")
    for name, value in zip(_POSITIONAL, positional, strict=False):
        if name in fields:
            raise BadDropInput(name, "is given twice")
        fields[name] = value
    missing = [name for name in _POSITIONAL[:4] if name not in fields]
    if missing:
        raise BadDropInput(missing[0], f"is required; usage: {CREATE_USAGE}")
    return DropInput.parse(**fields)


def parse_edit(text: str | None) -> tuple[int, EditDrop]:
    """`ID field=value...` as the drop id and its changes."""
    words = _words(text, f"usage: {EDIT_USAGE}")
    if not words:
        raise BadDropInput("id", f"is required; usage: {EDIT_USAGE}")
    drop_id = _drop_id(words[0])
    changes: dict[str, Any] = {}
    for word in words[1:]:
        named = _named(word)
        if named is None:
            raise BadDropInput("edit", f"{word!r} is not field=value; usage: {EDIT_USAGE}")
        changes[named[0]] = named[1]
    return drop_id, EditDrop.parse(**changes)


def _drop_id(text: str | None) -> int:
    word = (text or "").strip().removeprefix("#")
    if not word.isdigit() or int(word) < 1:
        raise BadDropInput("id", f"give the drop's number (from /drop list), not {text!r}" if text else "is required")
    return int(word)


def _strip_hash(value: Any) -> Any:
    return value.strip().removeprefix("#") if isinstance(value, str) else value


DropId = Annotated[int, BeforeValidator(_strip_hash)]


# --- rendering ---------------------------------------------------------------------------------------------


def _at(moment: datetime) -> str:
    return moment.strftime("%a %d %b %Y %H:%M UTC")


def _headline(view: DropView) -> str:
    return f"#{view.id} {view.title} · {view.price}"


def _drop_lines(view: DropView, now: datetime) -> list[str]:
    lines = [countdown_text(view, now)]
    lines.append(f"Supply {view.supply}: {view.sold} sold, {view.held} in checkout, {view.waiting} waiting")
    lines.append(f"Opens {_at(view.opens_at)}; closes {_at(view.closes_at) if view.closes_at else 'never'}")
    if view.early_access:
        early = ", ".join(f"{access.tier_name} {access.minutes} min" for access in view.early_access)
        lines.append(f"Early access: {early} (from {_at(view.early_opens_at)})")
    lines.append(f"Per person: {view.per_person_limit}")
    if view.description:
        lines.append(view.description)
    return lines


def _pay_reply(title: str, hold: HoldView, url: str, now: datetime, *first: str) -> Reply:
    left = format_duration(hold.expires_at - now)
    return Reply.text(
        *first,
        f"One unit at {hold.price} is held for you until {hold.expires_at.strftime('%H:%M UTC')} ({left}).",
        "Pay on Stripe before then to keep it; after that it goes to the next person.",
        title=title,
        buttons=((Button("Pay on Stripe", url=url),),),
    )


# --- creator commands --------------------------------------------------------------------------------------


class DropArgs(Args):
    action: Literal["create", "list", "show", "edit", "cancel"] = arg(
        "list", help="create, list, show, edit or cancel", metavar="create|list|show|edit|cancel"
    )
    details: str | None = arg(
        None, help='e.g. "Title" 15.00USD 100 2026-12-01T18:00+01:00, or an ID', rest=True, max_length=3000
    )


@COMMANDS.command(
    "drop", "Creators: create, list, show, edit or cancel a drop", args=DropArgs, audience=Audience.CREATOR
)
async def drop(ctx: Invocation, args: DropArgs) -> Reply:
    service = drop_service(ctx.services)
    now = ctx.services.clock.now()
    match args.action:
        case "create":
            view = await service.create(parse_create(args.details), creator=ctx.caller.identity)
            return Reply.text(*_drop_lines(view, now), title=f"Drop scheduled: {_headline(view)}")
        case "list":
            views = await service.list_drops()
            if not views:
                return Reply.text("No upcoming or running drops. Create one with /drop create.", title="Drops")
            lines = [f"{_headline(view)} · {countdown_text(view, now)}" for view in views]
            return Reply.text(*lines, title=f"Drops ({len(views)})")
        case "show":
            view = await service.get(_drop_id(args.details))
            lines = _drop_lines(view, now)
            if view.phase is DropPhase.CLOSED:
                result = await service.result(view.id)
                revenue = str(result.revenue) if result.revenue else "nothing"
                lines.append(
                    f"Result: {result.sold} of {result.supply} sold to {result.buyers} buyers, {revenue} taken, "
                    f"{result.waitlist_unserved} left on the waitlist"
                )
            return Reply.text(*lines, title=_headline(view))
        case "edit":
            drop_id, changes = parse_edit(args.details)
            view = await service.edit(drop_id, changes)
            return Reply.text(*_drop_lines(view, now), title=f"Drop updated: {_headline(view)}")
        case "cancel":
            view = await service.cancel(_drop_id(args.details))
            return Reply.text(
                "Live holds were released and the waitlist closed.", title=f"Cancelled: {_headline(view)}"
            )
    raise AssertionError(args.action)  # pragma: no cover - the Literal above lists every action


# --- fan commands ------------------------------------------------------------------------------------------


class DropIdArgs(Args):
    drop_id: DropId = arg(help="the drop's number", metavar="ID", ge=1, le=2**31 - 1)


@COMMANDS.command("claim", "Claim one unit of a drop and get a payment link", args=DropIdArgs)
async def claim(ctx: Invocation, args: DropIdArgs) -> Reply:
    service = drop_service(ctx.services)
    identity = ctx.caller.identity
    try:
        hold = await service.claim(args.drop_id, identity)
    except SoldOut as error:
        return Reply(
            (str(error),),
            "Sold out",
            ((Button("Join the waitlist", command=f"waitlist {args.drop_id}"),),),
            Outcome.INVALID,
        )
    except LimitReached as error:
        # A second press while a hold is live: show the same payment link again rather than only a refusal.
        live = await service.holds_of(identity, args.drop_id)
        if not live:
            raise
        link = await service.checkout_link(live[0].id, identity)
        return _pay_reply(f"Reserved: {live[0].drop_title}", live[0], link.url, ctx.services.clock.now(), str(error))
    link = await service.checkout_link(hold.id, identity)
    return _pay_reply(f"Reserved: {hold.drop_title}", hold, link.url, ctx.services.clock.now())


@COMMANDS.command("waitlist", "Join the waitlist of a sold-out drop", args=DropIdArgs)
async def waitlist(ctx: Invocation, args: DropIdArgs) -> Reply:
    service = drop_service(ctx.services)
    identity = ctx.caller.identity
    spot = await service.join_waitlist(args.drop_id, identity)
    if spot.hold_id is not None:
        holds = await service.holds_of(identity, args.drop_id)
        hold = next((hold for hold in holds if hold.id == spot.hold_id), None)
        if hold is not None:
            link = await service.checkout_link(hold.id, identity)
            return _pay_reply(f"A unit came back: {hold.drop_title}", hold, link.url, ctx.services.clock.now())
    position = f"You are number {spot.position} in line." if spot.position else "You are on the waitlist."
    return Reply.text(
        position,
        "When a unit comes back I will message you with a payment link that holds it for you for a short while.",
        title="On the waitlist",
    )


@COMMANDS.command("notify", "Get a reminder before a drop opens", args=DropIdArgs)
async def notify(ctx: Invocation, args: DropIdArgs) -> Reply:
    service = drop_service(ctx.services)
    added = await service.notify_me(args.drop_id, ctx.caller.identity)
    view = await service.get(args.drop_id)
    first = "I will remind you before it opens." if added else "You are already on the reminder list."
    return Reply.text(first, countdown_text(view, ctx.services.clock.now()), title=f"Notify me: {view.title}")
