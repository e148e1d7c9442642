"""Fan commands for packs and licenses on THE command table: `/packs` and `/license buy`.

Importing this module declares them on `bots.commands.COMMANDS` (which imports it). Handlers parse, call
`PackService` / `LicenseSales` and render; every refusal is a typed domain error whose text is the one line shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BeforeValidator, StringConstraints

from bots.command_table import Args, Invocation, arg
from bots.commands import COMMANDS
from bots.rendering import Button, Reply, button_rows, day, file_size, minute, money, plural
from entitlements.packs import AssetLink, MemberPacks
from storefront.months import month_name
from storefront.text import shortened

__all__ = ["PAGE_FILES"]

PAGE_FILES = 8  # download buttons on one /packs page: 4 rows of 2, and a row for Previous/Next (Discord: 5 rows)
_BUTTON_LABEL = 40


# --- arguments -------------------------------------------------------------------------------------------------


def _license_word(value: object) -> object:
    return value.strip().lower().replace("-", "_") if isinstance(value, str) else value


LicenseKindWord = Annotated[str, BeforeValidator(_license_word), StringConstraints(pattern=r"^[a-z_]{1,32}$")]


class PacksArgs(Args):
    page: int = arg(1, help="page of your files", ge=1, le=10_000)


class LicenseArgs(Args):
    action: Literal["buy"] = arg(help="buy a license for one file", metavar="buy")
    asset: int = arg(help="the file number /packs shows", metavar="FILE", ge=1, le=2_147_483_647)
    kind: LicenseKindWord = arg(help="which license", metavar="KIND", choices_from="licenses_for_sale")


# --- /packs ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    section: str
    link: AssetLink
    licensed: bool


_UNLOCKED_BY = {"tenure": " (unlocked by your paid months)"}


def _entries(found: MemberPacks) -> list[_Entry]:
    entries = []
    for pack in found.packs:
        section = f"{month_name(pack.month)}: {pack.title}{_UNLOCKED_BY.get(pack.unlocked_by, '')}"
        entries += [_Entry(section, link, licensed=False) for link in pack.links]
    entries += [_Entry("Licenses you bought", link, licensed=True) for link in found.licensed]
    return entries


def _file_line(entry: _Entry) -> str:
    link = entry.link
    licensed = f", {link.license_name} license" if entry.licensed else ""
    return f"  #{link.asset_id} {link.title} ({file_size(link.size)}{licensed})"


def _label(link: AssetLink) -> str:
    label = f"#{link.asset_id} {link.title}"
    return shortened(label, _BUTTON_LABEL)


def _standing_line(found: MemberPacks) -> str:
    if found.tier_name is None:
        return "You have no membership with packs right now; the licenses you bought stay yours."
    left = "" if found.downloads_left is None else f"; {found.downloads_left} downloads left this month"
    return f"{found.tier_name} member: your downloads carry the {found.license_name} license{left}."


def _nav(command: str, page: int, pages: int) -> tuple[Button, ...]:
    nav = []
    if page > 1:
        nav.append(Button("Previous", command=f"{command} {page - 1}"))
    if page < pages:
        nav.append(Button("Next", command=f"{command} {page + 1}"))
    return tuple(nav)


@COMMANDS.command("packs", "Your monthly packs and licensed files, with fresh download links", args=PacksArgs)
async def packs(ctx: Invocation, args: PacksArgs) -> Reply:
    services = ctx.services
    found = await services.packs.packs_for(ctx.caller.identity)
    entries = _entries(found)
    pages = max(1, -(-len(entries) // PAGE_FILES))
    if args.page > pages:
        return Reply.problem(f"There is no page {args.page}; your files fill {plural(pages, 'page')}.")
    shown = entries[(args.page - 1) * PAGE_FILES : args.page * PAGE_FILES]
    lines = [_standing_line(found)]
    section = None
    for entry in shown:
        if entry.section != section:
            section = entry.section
            lines += ["", section]
        lines.append(_file_line(entry))
    if not entries:
        lines.append("No packs have gone out to you yet; the next one arrives on its delivery day.")
    if found.locked_back_packs:
        unlock = "unlocks" if found.locked_back_packs == 1 else "unlock"
        lines.append(f"{plural(found.locked_back_packs, 'older pack')} {unlock} as your paid months add up.")
    if shown:
        lines += ["", f"The links work until {day(shown[0].link.expires_at)}; send /packs for fresh ones."]
        if for_sale := [kind for kind, terms in services.licenses.licenses.items() if terms.for_sale]:
            lines.append(f"More rights for a file? /license buy FILE KIND, KIND one of: {', '.join(for_sale)}.")
    buttons = button_rows([Button(_label(entry.link), url=entry.link.url) for entry in shown], per_row=2)
    if nav := _nav("packs", args.page, pages):
        buttons += (nav,)
    title = "Your packs" + (f" (page {args.page} of {pages})" if pages > 1 else "")
    return Reply.text(*lines, title=title, buttons=buttons)


# --- /license buy ----------------------------------------------------------------------------------------------


@COMMANDS.command("license", "Buy a wider license for one of your files (see /packs)", args=LicenseArgs)
async def license_buy(ctx: Invocation, args: LicenseArgs) -> Reply:
    checkout = await ctx.services.license_sales.start_checkout(ctx.caller.identity, args.asset, args.kind)
    price = f": {money(checkout.amount_minor, checkout.currency)}" if checkout.amount_minor else ""
    lines = ["One payment on Stripe; once it goes through the license is yours, and /packs lists the file with it."]
    if checkout.license_kind == "exclusive":
        lines.append("Nobody else can start buying the exclusive license while you pay.")
    lines.append(f"The payment page works until {minute(checkout.pay_before)}.")
    return Reply.text(
        *lines,
        title=f"{checkout.license_name} license for #{checkout.asset_id} {checkout.asset_title}{price}",
        buttons=((Button("Pay on Stripe", url=checkout.url),),),
    )
