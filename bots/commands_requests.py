"""Custom-request commands on THE command table: `/request` and `/myrequests` for members, the queue for creators.

Importing this module declares them on `bots.commands.COMMANDS`. Handlers parse, call `RequestService`, render;
every refusal (no quota in the tier, quota used, wrong status) is a typed domain error whose text is the one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bots.command_table import Args, Invocation, NoArgs, arg
from bots.commands import COMMANDS
from bots.permissions import Audience
from bots.rendering import Reply, day
from entitlements.requests import Brief, CustomRequest, RequestService

if TYPE_CHECKING:
    from bots.services import BotServices

__all__ = ["request_service"]

_ID = {"ge": 1, "le": 2_147_483_647}


def request_service(services: BotServices) -> RequestService:
    """The app's RequestService if the services carry one, else one over the same database, clock and catalog."""
    found = getattr(services, "requests", None)
    return found if isinstance(found, RequestService) else RequestService(services.db, services.clock, services.catalog)


class RequestArgs(Args):
    what: str = arg(help="what you would like made: subject, format, when you need it", rest=True, max_length=2000)


class RequestIdArgs(Args):
    request_id: int = arg(help="the request number /requests shows", metavar="ID", **_ID)


class DeclineArgs(Args):
    request_id: int = arg(help="the request number /requests shows", metavar="ID", **_ID)
    reason: str = arg(help="why, in a few words (the member reads it)", rest=True, min_length=1, max_length=200)


class DeliverArgs(Args):
    request_id: int = arg(help="the request number /requests shows", metavar="ID", **_ID)
    note: str = arg(help="what was delivered and where to find it", rest=True, min_length=1, max_length=2000)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _queue_line(request: CustomRequest, now_overdue: bool) -> str:
    flag = "OVERDUE " if now_overdue else ""
    status = request.status.value.replace("_", " ")
    return (
        f"{flag}#{request.id} {_short(request.brief.what)} | {status} | {request.identity} ({request.tier}) "
        f"| asked {day(request.created_at)}, due {day(request.due_at)}"
    )


@COMMANDS.command("request", "Ask the creator for a custom variation (tiers with custom requests)", args=RequestArgs)
async def request(ctx: Invocation, args: RequestArgs) -> Reply:
    service = request_service(ctx.services)
    opened = await service.submit(ctx.caller.identity, Brief(what=args.what))
    ctx.services.outbox_written()
    used, quota = await service.quota_left(ctx.caller.identity)
    return Reply.text(
        f"Brief: {_short(opened.brief.what, 200)}",
        f"Target date: {day(opened.due_at)}. I will message you at each step.",
        f"Requests used this month: {used} of {quota}.",
        title=f"Request #{opened.id} sent",
    )


@COMMANDS.command("myrequests", "Your custom requests and where they stand")
async def my_requests(ctx: Invocation, args: NoArgs) -> Reply:
    service = request_service(ctx.services)
    found = await service.mine(ctx.caller.identity)
    used, quota = await service.quota_left(ctx.caller.identity)
    lines = [f"#{r.id} {_short(r.brief.what)} | {r.status.value.replace('_', ' ')}" for r in found[:20]]
    lines.append(f"Used this month: {used} of {quota}." if quota else "Your tier has no custom requests.")
    return Reply.text(*(lines or ["No requests yet."]), title="Your custom requests")


@COMMANDS.command("requests", "The custom request queue: overdue and oldest first", audience=Audience.CREATOR)
async def requests_queue(ctx: Invocation, args: NoArgs) -> Reply:
    service = request_service(ctx.services)
    found = await service.queue()
    now = ctx.services.clock.now()
    lines = [_queue_line(r, r.overdue(now)) for r in found[:30]]
    if len(found) > 30:
        lines.append(f"…and {len(found) - 30} more.")
    if not found:
        lines.append("Nothing waiting.")
    overdue = sum(r.overdue(now) for r in found)
    title = f"Requests: {len(found)} open" + (f", {overdue} overdue" if overdue else "")
    return Reply.text(*lines, title=title)


@COMMANDS.command("request_accept", "Accept a custom request", args=RequestIdArgs, audience=Audience.CREATOR)
async def request_accept(ctx: Invocation, args: RequestIdArgs) -> Reply:
    done = await request_service(ctx.services).accept(args.request_id, by=ctx.caller.identity)
    ctx.services.outbox_written()
    return Reply.text(f"Due {day(done.due_at)}. The member was told.", title=f"Request #{done.id} accepted")


@COMMANDS.command(
    "request_start", "Mark a custom request as in progress", args=RequestIdArgs, audience=Audience.CREATOR
)
async def request_start(ctx: Invocation, args: RequestIdArgs) -> Reply:
    done = await request_service(ctx.services).start(args.request_id, by=ctx.caller.identity)
    ctx.services.outbox_written()
    return Reply.text(f"Due {day(done.due_at)}. The member was told.", title=f"Request #{done.id} in progress")


@COMMANDS.command(
    "request_decline", "Decline a custom request, with a reason", args=DeclineArgs, audience=Audience.CREATOR
)
async def request_decline(ctx: Invocation, args: DeclineArgs) -> Reply:
    done = await request_service(ctx.services).decline(args.request_id, args.reason, by=ctx.caller.identity)
    ctx.services.outbox_written()
    return Reply.text(
        "The member was told why; it does not count against their monthly quota.", title=f"Request #{done.id} declined"
    )


@COMMANDS.command(
    "request_deliver", "Mark a custom request delivered, with a note", args=DeliverArgs, audience=Audience.CREATOR
)
async def request_deliver(ctx: Invocation, args: DeliverArgs) -> Reply:
    done = await request_service(ctx.services).deliver(args.request_id, args.note, by=ctx.caller.identity)
    ctx.services.outbox_written()
    return Reply.text("The member got your note.", title=f"Request #{done.id} delivered")
