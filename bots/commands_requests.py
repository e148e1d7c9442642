"""Custom-request commands on THE command table: `/request` and `/myrequests` for members, the queue for creators.

Importing this module declares them on `bots.commands.COMMANDS`. Handlers parse, call `RequestService`, render;
every refusal (no quota in the tier, quota used, wrong status) is a typed domain error whose text is the one line.

The brief is one line on both platforms: what to make, then optional parts after `|`::

    /request the fox print in blue | format: PNG 4000px | by: 12 Dec | ref: 12

`ref:` names a file number from /packs; a file attached to the command (a Telegram document with the command
as its caption, a Discord file option) is the reference instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bots.command_table import Args, Invocation, NoArgs, arg
from bots.commands import COMMANDS
from bots.permissions import Audience
from bots.rendering import Button, Reply, day, minute, money
from bots.uploads import Upload, UploadSlots, read_uploads
from entitlements.request_files import RequestFile
from entitlements.requests import BadBrief, Brief, CustomRequest, RequestService
from storefront.text import shortened

if TYPE_CHECKING:
    from bots.services import BotServices

__all__ = ["BRIEF_HELP", "DELIVERY_FILE_SLOTS", "parse_brief", "request_service"]

_ID = {"ge": 1, "le": 2_147_483_647}
# File options of /request_deliver on Discord; Telegram takes one document per command; the CLI takes up to
# entitlements.request_files.MAX_DELIVERY_FILES.
DELIVERY_FILE_SLOTS = 5
BRIEF_HELP = (
    "Write what you would like made, then any of these after a |:",
    "/request the fox print in blue | format: PNG 4000px | by: 12 Dec | ref: 12",
    "format: the file type or size; by: when you would like it; ref: a file number from /packs.",
    "Or attach a reference file: send it as a document with the caption /request ... (Telegram), "
    "or use the file option (Discord).",
)
_PART_KEYS = {"format": "format", "by": "deadline", "deadline": "deadline", "ref": "ref", "reference": "ref"}


def request_service(services: BotServices) -> RequestService:
    """The app's RequestService if the services carry one, else one over the same database, clock and catalog
    (without paid extras or files)."""
    found = getattr(services, "requests", None)
    return found if isinstance(found, RequestService) else RequestService(services.db, services.clock, services.catalog)


def parse_brief(text: str) -> Brief:
    """`WHAT | format: ... | by: ... | ref: N` as a Brief; a part without a known `key:` stays in the brief."""
    what, *parts = text.split("|")
    kept = [what]
    found: dict[str, str] = {}
    for part in parts:
        key, colon, value = part.partition(":")
        name = _PART_KEYS.get(key.strip().lower()) if colon else None
        if name is None:
            kept.append(part)
            continue
        if name in found:
            raise BadBrief(f"{key.strip()}: is given twice; give each part once.")
        found[name] = value.strip()
    reference = None
    if "ref" in found:
        number = found["ref"].removeprefix("#").strip()
        if not number.isdigit() or int(number) < 1 or len(number) > 9:
            raise BadBrief("ref: takes a file number from /packs (e.g. ref: 12), or attach the file instead.")
        reference = int(number)
    return Brief(
        what="|".join(kept).strip(),
        format=found.get("format"),
        deadline_wish=found.get("deadline"),
        reference_asset_id=reference,
    )


class RequestArgs(Args):
    what: str | None = arg(
        None,
        help="what to make; then | format: ... | by: ... | ref: FILE (send /request alone for help)",
        rest=True,
        max_length=2600,
    )


class RequestIdArgs(Args):
    request_id: int = arg(help="the request number /requests shows", metavar="ID", **_ID)


class DeclineArgs(Args):
    request_id: int = arg(help="the request number /requests shows", metavar="ID", **_ID)
    reason: str = arg(help="why, in a few words (the member reads it)", rest=True, min_length=1, max_length=200)


class DeliverArgs(Args):
    request_id: int = arg(help="the request number /requests shows", metavar="ID", **_ID)
    note: str = arg(help="a note for the member (attach the files)", rest=True, min_length=1, max_length=2000)


def _status(request: CustomRequest) -> str:
    return request.status.value.replace("_", " ")


def _queue_line(request: CustomRequest, now_overdue: bool) -> str:
    flag = "OVERDUE " if now_overdue else ""
    paid = " | paid extra" if request.paid_extra else ""
    ref = f" | ref file {request.brief.reference_asset_id}" if request.brief.reference_asset_id else ""
    return (
        f"{flag}#{request.id} {shortened(request.brief.what)} | {_status(request)} | "
        f"{request.identity} ({request.tier}){paid}{ref} | asked {day(request.created_at)}, due {day(request.due_at)}"
    )


def _brief_lines(brief: Brief) -> list[str]:
    lines = [f"Brief: {shortened(brief.what, 200)}"]
    if brief.format:
        lines.append(f"Format: {brief.format}")
    if brief.deadline_wish:
        lines.append(f"Wished by: {brief.deadline_wish}")
    if brief.reference_asset_id:
        lines.append(f"Reference: file {brief.reference_asset_id}")
    return lines


async def _read(uploads: tuple[Upload, ...]) -> list[RequestFile] | str:
    """The attached files, or the one line saying which is too big."""
    read = await read_uploads(uploads)
    if isinstance(read, str):
        return read
    return [RequestFile(upload.name, data, upload.content_type) for upload, data in read]


@COMMANDS.command(
    "request",
    "Ask for a custom variation: WHAT | format: ... | by: ... | ref: FILE",
    args=RequestArgs,
    uploads=UploadSlots(1, "a reference file for the brief (optional)"),
)
async def request(ctx: Invocation, args: RequestArgs) -> Reply:
    if not args.what:
        return Reply.text(*BRIEF_HELP, title="Custom requests")
    brief = parse_brief(args.what)
    reference = None
    if ctx.uploads:
        files = await _read(ctx.uploads[:1])
        if isinstance(files, str):
            return Reply.problem(files)
        [reference] = files
        if brief.reference_asset_id is not None:
            return Reply.problem("Give either ref: or an attached file as the reference, not both.")
    service = request_service(ctx.services)
    sent = await service.submit(ctx.caller.identity, brief, reference=reference)
    opened = sent.request
    if sent.checkout is None:
        ctx.services.outbox_written()
        return Reply.text(
            *_brief_lines(opened.brief),
            f"Target date: {day(opened.due_at)}. I will message you at each step.",
            f"Requests used this month: {sent.used} of {sent.quota}.",
            title=f"Request #{opened.id} sent",
        )
    checkout = sent.checkout
    requests = "request" if sent.quota == 1 else "requests"
    return Reply.text(
        f"You have used your {sent.quota} custom {requests} for this month; the quota resets on "
        f"{day(sent.resets_at)} (00:00 UTC).",
        f"Or pay {money(checkout.amount_minor, checkout.currency)} for one extra request now: it joins the queue "
        "as soon as Stripe confirms the payment, and does not use your quota.",
        *_brief_lines(opened.brief),
        f"The payment page works until {minute(checkout.pay_before)}.",
        title=f"Request #{opened.id} waits for payment",
        buttons=((Button("Pay on Stripe", url=checkout.url),),),
    )


@COMMANDS.command("myrequests", "Your custom requests and where they stand")
async def my_requests(ctx: Invocation, args: NoArgs) -> Reply:
    service = request_service(ctx.services)
    found = await service.mine(ctx.caller.identity)
    used, quota = await service.quota_left(ctx.caller.identity)
    lines = [f"#{r.id} {shortened(r.brief.what)} | {_status(r)}" for r in found[:20]]
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
    if done.paid_extra:
        told = "The member was told why. It was a paid extra request: refund its payment in Stripe."
    else:
        told = "The member was told why; it does not count against their monthly quota."
    return Reply.text(told, title=f"Request #{done.id} declined")


@COMMANDS.command(
    "request_deliver",
    "Deliver a custom request: a note, and the files attached (licensed to the member)",
    args=DeliverArgs,
    audience=Audience.CREATOR,
    uploads=UploadSlots(DELIVERY_FILE_SLOTS, "a file for the member (commercial license)"),
)
async def request_deliver(ctx: Invocation, args: DeliverArgs) -> Reply:
    files = await _read(ctx.uploads)
    if isinstance(files, str):
        return Reply.problem(f"{files} Deliver it with: storefront requests deliver {args.request_id} FILE...")
    service = request_service(ctx.services)
    done = await service.deliver(args.request_id, args.note, by=ctx.caller.identity, files=files)
    ctx.services.outbox_written()
    if files:
        lines = [f"The member got your note and {len(files)} file{'s' if len(files) != 1 else ''} to download."]
    else:
        lines = ["The member got your note (no files attached)."]
    return Reply.text(*lines, title=f"Request #{done.id} delivered")
