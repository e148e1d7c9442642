"""Team commands on THE command table: `/pack add|schedule|list` for creators, `/churn [months]` for admins.

Importing this module declares them on `bots.commands.COMMANDS` (which imports it). Who may run them is checked
by the table (`Audience`); anyone else is refused before a handler runs.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, StringConstraints, model_validator

from bots.command_table import Args, Invocation, arg
from bots.commands import COMMANDS
from bots.permissions import Audience, Platform
from bots.rendering import Reply, ReplyFile, day, minute, plural
from bots.uploads import UploadSlots, read_uploads
from entitlements.packs import InvalidMonth, PackFile, PackSummary, UnknownPack, parse_month
from storefront.churn import MAX_MONTHS, churn_summary_text

__all__ = ["PACK_FILE_SLOTS", "ChurnArgs", "PackArgs", "parse_when"]

PACK_FILE_SLOTS = 5  # file options of /pack on Discord
LISTED_PACKS = 15


# --- /pack add | schedule | list (creators) --------------------------------------------------------------------


def _month(value: str) -> str:
    try:
        return parse_month(value)
    except InvalidMonth as error:
        raise ValueError(str(error)) from None


def parse_when(text: str) -> datetime:
    """An ISO 8601 date-time with its time zone: an offset (`+01:00`, `Z`) or a zone name after it
    (`2026-12-01T09:00 Europe/Paris`). A time without a zone is refused: a creator's 9 o'clock is not UTC's."""
    head, _, tail = text.strip().rpartition(" ")
    zone = None
    if head and ("/" in tail or tail.upper() == "UTC"):
        try:
            zone = ZoneInfo("UTC" if tail.upper() == "UTC" else tail)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {tail!r}; use a name like Europe/Paris or an offset like +01:00"
            ) from None
        text = head
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date and time; write e.g. 2026-12-01T09:00+01:00") from None
    if zone is not None:
        if moment.tzinfo is not None:
            raise ValueError("give either an offset or a zone name, not both")
        moment = moment.replace(tzinfo=zone)
    if moment.tzinfo is None:
        raise ValueError(f"WHEN needs a time zone, e.g. {text.strip()}Z for UTC or {text.strip()}+01:00")
    return moment.astimezone(UTC)


def _when(value: object) -> object:
    return parse_when(value) if isinstance(value, str) else value


Month = Annotated[str, StringConstraints(max_length=16), AfterValidator(_month)]
When = Annotated[datetime, BeforeValidator(_when)]


class PackArgs(Args):
    action: Literal["add", "schedule", "list"] = arg(
        help="add files, set when the pack goes out, or list the packs", metavar="add|schedule|list"
    )
    month: Month | None = arg(None, help="the pack's month, YYYY-MM", metavar="MONTH")
    when: When | None = arg(
        None, help="when it goes out, with a time zone: 2026-12-01T09:00+01:00", metavar="WHEN", rest=True
    )

    @model_validator(mode="after")
    def _fits_the_action(self) -> PackArgs:
        if self.action == "list" and (self.month is not None or self.when is not None):
            raise ValueError("/pack list takes nothing more")
        if self.month is None and self.action != "list":
            raise ValueError("missing MONTH")
        if self.when is None and self.action == "schedule":
            raise ValueError("missing WHEN")
        return self


def _attach_hint(platform: Platform, month: str) -> str:
    if platform is Platform.TELEGRAM:
        return f"Attach the files: send each one as a document (not a photo) with the caption /pack add {month}"
    return f"Attach the files with the file options of /pack add (up to {PACK_FILE_SLOTS} at a time)"


def _going_out(summary: PackSummary, now: datetime) -> str:
    if summary.fanout_completed_at is not None:
        return f"sent to {plural(summary.delivered_to, 'member')} on {day(summary.fanout_completed_at)}"
    if summary.fanout_started_at is not None:
        return f"going out now: {plural(summary.delivered_to, 'member')} so far"
    if summary.deliver_at <= now:
        return "due: goes out within a minute"
    return f"goes out {minute(summary.deliver_at)}"


def _due_warning(summary: PackSummary, now: datetime) -> list[str]:
    if summary.deliver_at > now or summary.fanout_started_at is not None:
        return []
    return ["Its time has come: it goes out within a minute, and then files can no longer be added."]


def _names(names: list[str]) -> str:
    return ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")


async def _add(ctx: Invocation, month: str, when: datetime | None) -> Reply:
    if not ctx.uploads:
        return Reply.problem(_attach_hint(ctx.caller.platform, month))
    server_side = f"add it on the server with: storefront pack add DIR --month {month}"
    read = await read_uploads(ctx.uploads, elsewhere=server_side)
    if isinstance(read, str):
        return Reply.problem(read)
    # The file name decides the content type, as for `storefront pack add`.
    files = [PackFile(name=upload.name, source=data) for upload, data in read]
    services = ctx.services
    try:
        before = {asset.filename for asset in (await services.packs.summary(month)).assets}
    except UnknownPack:
        before = set()
    summary = await services.packs.add_pack(month, files, deliver_at=when)
    now = services.clock.now()
    added = [asset.filename for asset in summary.assets if asset.filename not in before]
    lines = [f"Added: {_names(added)}." if added else "These files were already in the pack; nothing changed."]
    lines += [
        f"{plural(len(summary.assets), 'file')} in the pack; {_going_out(summary, now)}"
        " to every member whose tier includes packs.",
        *_due_warning(summary, now),
        f"Change the time with /pack schedule {month} WHEN.",
    ]
    if ctx.caller.platform is Platform.TELEGRAM:
        lines.append(f"More files: send each as a document with the caption /pack add {month}.")
    return Reply.text(*lines, title=f"Pack {month}: {summary.title}")


async def _schedule(ctx: Invocation, month: str, when: datetime) -> Reply:
    summary = await ctx.services.packs.schedule(month, when)
    now = ctx.services.clock.now()
    return Reply.text(
        f"It {_going_out(summary, now)} to every member whose tier includes packs.",
        *_due_warning(summary, now),
        title=f"Pack {month}: {summary.title}",
    )


async def _list(ctx: Invocation) -> Reply:
    found = await ctx.services.packs.list_packs()
    if not found:
        return Reply.text("No packs yet.", _attach_hint(ctx.caller.platform, "YYYY-MM") + ".", title="Packs")
    now = ctx.services.clock.now()
    lines = [
        f"{summary.month} {summary.title}: {plural(len(summary.assets), 'file')}, {_going_out(summary, now)}"
        for summary in found[:LISTED_PACKS]
    ]
    if len(found) > LISTED_PACKS:
        lines.append(f"... and {len(found) - LISTED_PACKS} older packs (storefront pack list shows them all)")
    return Reply.text(*lines, title=f"Packs, newest first ({len(found)})")


@COMMANDS.command(
    "pack",
    "Add files to a month's pack, set when it goes out, or list the packs",
    args=PackArgs,
    audience=Audience.CREATOR,
    uploads=UploadSlots(PACK_FILE_SLOTS, "a file for the pack (with /pack add)"),
)
async def pack(ctx: Invocation, args: PackArgs) -> Reply:
    match args.action:
        case "add":
            assert args.month is not None
            return await _add(ctx, args.month, args.when)
        case "schedule":
            assert args.month is not None and args.when is not None
            return await _schedule(ctx, args.month, args.when)
        case _:
            return await _list(ctx)


# --- /churn (admins) -------------------------------------------------------------------------------------------


class ChurnArgs(Args):
    months: int = arg(12, help="how many calendar months the report covers", ge=1, le=MAX_MONTHS)


@COMMANDS.command("churn", "Churn, MRR and members at risk, with a chart", args=ChurnArgs, audience=Audience.ADMIN)
async def churn(ctx: Invocation, args: ChurnArgs) -> Reply:
    from storefront.churn.charts import summary_chart  # matplotlib loads only when a chart is asked for

    report = await ctx.services.churn_reports.get(args.months)
    summary = await churn_summary_text(report)
    chart = await asyncio.to_thread(summary_chart, report)  # CPU work: off the event loop
    return Reply.text(
        *summary.splitlines(),
        title=f"Churn report, {report.months[0].month} to {report.latest.month}",
        files=(ReplyFile(f"churn-{report.latest.month}.png", chart, image=True),),
    )
