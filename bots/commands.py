"""THE command table: every chat command, declared once, rendered to Discord and Telegram.

Adding a command is one declaration here: an `Args` model and a handler decorated with `@COMMANDS.command(...)`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, StringConstraints, ValidationInfo

from bots.command_table import Args, CommandTable, Invocation, NoArgs, arg
from bots.permissions import Audience, Platform
from bots.rendering import Button, Reply, day, money
from entitlements.comps import MAX_COMP_DAYS, grant_comp, revoke_comp
from entitlements.membership import MembershipStatus
from entitlements.roster import roster
from entitlements.standing import Standing, member_standing
from storefront.catalog import Catalog, Tier
from storefront.errors import UnknownTier
from storefront.linking import CODE_LIFETIME, InvalidLinkCode, issue_link_code, normalise_code, redeem_link_code
from storefront.members import InvalidIdentity, parse_identity

__all__ = ["COMMANDS"]

COMMANDS = CommandTable()

_PLATFORM_NAMES = {"telegram": "Telegram", "discord": "Discord", "stripe": "Stripe billing"}


# --- argument types --------------------------------------------------------------------------------------------


def _known_tier(value: str, info: ValidationInfo) -> str:
    catalog: Catalog | None = (info.context or {}).get("catalog")
    if catalog is not None and value not in catalog.tiers:
        raise ValueError(str(UnknownTier(value, list(catalog.tiers))))
    return value


def _identity(value: str) -> str:
    try:
        return parse_identity(value)
    except InvalidIdentity as error:
        raise ValueError(str(error)) from None


def _link_code(value: str) -> str:
    try:
        return normalise_code(value)
    except InvalidLinkCode:
        raise ValueError("CODE is the 6 letters and digits /link showed on your other account") from None


_BILLING_WORDS = {
    "monthly": "monthly",
    "month": "monthly",
    "annual": "annual",
    "annually": "annual",
    "yearly": "annual",
    "year": "annual",
}

TierKey = Annotated[
    str,
    StringConstraints(to_lower=True, pattern=r"^[a-z0-9_-]{1,32}$"),
    AfterValidator(_known_tier),
]
Identity = Annotated[str, StringConstraints(max_length=128), AfterValidator(_identity)]
LinkCode = Annotated[str, StringConstraints(max_length=16), AfterValidator(_link_code)]
Billing = Annotated[
    Literal["monthly", "annual"],
    BeforeValidator(lambda v: _BILLING_WORDS.get(v.lower(), v) if isinstance(v, str) else v),
]


class StartArgs(Args):
    payload: str | None = arg(None, help="what a t.me start link carried", max_length=64)


class SubscribeArgs(Args):
    tier: TierKey = arg(help="the tier to join", choices_from="tiers")
    billing: Billing = arg("monthly", help="pay monthly or yearly", metavar="annual")


class LinkArgs(Args):
    code: LinkCode | None = arg(None, help="the code /link showed on your other account")


class MembersArgs(Args):
    page: int = arg(1, help="page of the member list", ge=1, le=100_000)


class GrantArgs(Args):
    identity: Identity = arg(help="who: telegram:<id> or discord:<id>")
    tier: TierKey = arg(help="the tier to give for free", choices_from="tiers")
    days: int | None = arg(None, help="for how many days (default: until /revoke)", ge=1, le=MAX_COMP_DAYS)


class RevokeArgs(Args):
    identity: Identity = arg(help="who: telegram:<id> or discord:<id>")


# --- shared pieces of replies ----------------------------------------------------------------------------------


def _price_line(tier: Tier) -> str:
    price = f"{money(tier.monthly_price, tier.currency)}/month"
    if tier.annual_price:
        price += f" or {money(tier.annual_price, tier.currency)}/year"
    trial = f", {tier.trial_days}-day free trial" if tier.trial_days else ""
    return f"{tier.name}: {price}{trial}"


def _perks(tier: Tier) -> str:
    grants = tier.grants
    perks = []
    if grants.monthly_downloads:
        perks.append(f"{grants.monthly_downloads} downloads a month")
    perks.append(f"{', '.join(kind.replace('_', ' ') for kind in grants.license_kinds)} license")
    if grants.drop_early_access_minutes:
        perks.append(f"drops {grants.drop_early_access_minutes} min early")
    if grants.custom_requests_per_month:
        perks.append(f"{grants.custom_requests_per_month} custom requests a month")
    if grants.discord_role_id:
        perks.append("Discord role")
    if grants.telegram_chat_id:
        perks.append("members' Telegram channel")
    return "  " + ", ".join(perks)


def _tier_buttons(catalog: Catalog) -> tuple[tuple[Button, ...], ...]:
    rows = []
    for tier in catalog.tiers.values():
        row = [Button(f"Join {tier.name}", command=f"subscribe {tier.key}")]
        if tier.annual_price:
            row.append(Button(f"{tier.name} yearly", command=f"subscribe {tier.key} annual"))
        rows.append(tuple(row))
    return tuple(rows)


def _tier_lines(catalog: Catalog) -> list[str]:
    lines = []
    for tier in catalog.tiers.values():
        lines += [_price_line(tier), _perks(tier)]
    return lines


# --- fan commands ----------------------------------------------------------------------------------------------


@COMMANDS.command("start", "Open the shop", args=StartArgs, platforms=frozenset({Platform.TELEGRAM}), personal=False)
async def start(ctx: Invocation, args: StartArgs) -> Reply:
    services = ctx.services
    commands = [
        f"{command.usage} - {command.description}"
        for command in ctx.table.for_platform(ctx.caller.platform)
        if command.name != "start" and services.policy.allows(command.audience, ctx.caller)
    ]
    hello = f"Welcome{', ' + ctx.caller.name if ctx.caller.name else ''}! Become a member:"
    return Reply.text(
        hello,
        *_tier_lines(services.catalog),
        "",
        *commands,
        title="Members' shop",
        buttons=_tier_buttons(services.catalog),
    )


@COMMANDS.command("tiers", "See the membership tiers and prices", personal=False)
async def tiers(ctx: Invocation, args: NoArgs) -> Reply:
    catalog = ctx.services.catalog
    return Reply.text(*_tier_lines(catalog), title="Membership tiers", buttons=_tier_buttons(catalog))


@COMMANDS.command("subscribe", "Get a Stripe checkout link for a tier", args=SubscribeArgs)
async def subscribe(ctx: Invocation, args: SubscribeArgs) -> Reply:
    interval = "year" if args.billing == "annual" else "month"
    link = await ctx.services.checkout.subscribe(ctx.caller.identity, args.tier, interval)
    lines = []
    if link.trial_days:
        lines.append(f"Starts with a {link.trial_days}-day free trial; you can cancel before it ends with /manage.")
    elif link.trial_already_used:
        lines.append("Your free trial was already used, so billing starts today.")
    lines += [
        "Pay securely on Stripe; your access starts as soon as the payment goes through.",
        "Got a promotion code? Enter it on the payment page.",
    ]
    return Reply.text(
        *lines,
        title=f"{link.tier.name}: {money(link.amount_minor, link.currency)}/{link.interval}",
        buttons=((Button("Pay on Stripe", url=link.url),),),
    )


def _status_line(standing: Standing) -> str | None:
    sub = standing.subscription
    if sub is None:
        return None
    match sub.status:
        case MembershipStatus.TRIALING:
            return f"Status: free trial until {day(sub.trial_end)}"
        case MembershipStatus.ACTIVE:
            return f"Status: active, renews on {day(sub.renews_at)}"
        case MembershipStatus.CANCELING:
            return f"Status: canceled, access until {day(sub.access_until)}"
        case MembershipStatus.PAST_DUE:
            return f"Status: payment failed; access until {day(sub.grace_until)} unless the card is updated (/manage)"
        case MembershipStatus.PAUSED:
            return "Status: paused"
        case MembershipStatus.INCOMPLETE:
            return "Status: waiting for the first payment"
        case _:
            return f"Status: ended on {day(sub.ended_at)}"


@COMMANDS.command("me", "Your tier, status, renewal date and downloads left")
async def me(ctx: Invocation, args: NoArgs) -> Reply:
    services = ctx.services
    async with services.db.read() as conn:
        standing = await member_standing(conn, ctx.caller.identity, services.clock.now(), services.catalog)
    if standing.subscription is None and standing.comp is None and standing.access is None:
        return Reply.text(
            "You have no membership yet. /tiers shows what you can join.",
            title="Your membership",
            buttons=((Button("See the tiers", command="tiers"),),),
        )
    was = standing.subscription.tier if standing.subscription else None
    tier = standing.access.name if standing.access else (f"none (was {was.name})" if was else "none")
    lines = [f"Tier: {tier}"]
    if status := _status_line(standing):
        lines.append(status)
    if standing.comp is not None:
        until = day(standing.comp.ends_at) if standing.comp.ends_at else "further notice"
        lines.append(f"Complimentary {standing.comp.tier.name if standing.comp.tier else 'access'} until {until}")
    downloads = "-" if standing.downloads_left is None else str(standing.downloads_left)
    lines.append(f"Downloads left this month: {downloads}")
    linked = sorted({_PLATFORM_NAMES.get(i.partition(":")[0], i) for i in standing.identities} - {"Stripe billing"})
    lines.append(f"Linked accounts: {', '.join(linked)}")
    buttons = ((Button("Manage billing", command="manage"),),) if standing.has_billing_account else ()
    return Reply.text(*lines, title="Your membership", buttons=buttons)


@COMMANDS.command("manage", "Manage billing on Stripe: card, tier, pause, cancel")
async def manage(ctx: Invocation, args: NoArgs) -> Reply:
    url = await ctx.services.checkout.portal(ctx.caller.identity)
    return Reply.text(
        "Change your card, switch tier, pause or cancel (and tell us why) on Stripe's billing page.",
        "The link works for a short while; run /manage again for a fresh one.",
        title="Manage your membership",
        buttons=((Button("Open billing portal", url=url),),),
    )


@COMMANDS.command("link", "Join your Discord and Telegram accounts into one membership", args=LinkArgs)
async def link(ctx: Invocation, args: LinkArgs) -> Reply:
    services, caller = ctx.services, ctx.caller
    other = "Discord" if caller.platform is Platform.TELEGRAM else "Telegram"
    now = services.clock.now()
    if args.code is None:
        async with services.db.write() as conn:
            issued = await issue_link_code(conn, caller.identity, now)
        minutes = int(CODE_LIFETIME.total_seconds() // 60)
        return Reply.text(
            f"Your code: {issued.code} (works once, for {minutes} minutes).",
            f"On {other}, run /link {issued.code} to make both accounts one membership.",
            title="Link your accounts",
        )
    async with services.db.write() as conn:
        result = await redeem_link_code(conn, services.memberships, code=args.code, identity=caller.identity, now=now)
    services.outbox_written()
    tier = services.catalog.tiers.get(result.access_tier) if result.access_tier else None
    return Reply.text(
        f"Done: your {other} and {caller.platform.value.capitalize()} accounts are now one membership.",
        f"Access: {tier.name if tier else 'none yet'}.",
        title="Accounts linked",
    )


# --- admin commands --------------------------------------------------------------------------------------------


@COMMANDS.command("members", "Members per tier and status, and a paged list", args=MembersArgs, audience=Audience.ADMIN)
async def members(ctx: Invocation, args: MembersArgs) -> Reply:
    services = ctx.services
    async with services.db.read() as conn:
        found = await roster(conn, services.clock.now(), page=args.page)
    access = ", ".join(f"{tier} {n}" for tier, n in sorted(found.with_access.items())) or "nobody"
    states = ", ".join(f"{tier} {status.replace('_', ' ')} {n}" for (tier, status), n in sorted(found.counts.items()))
    lines = [f"With access now: {access}", f"Subscriptions and comps: {states or 'none'}", ""]
    for row in found.rows:
        held = "; ".join(row.statuses) or "no subscription"
        lines.append(f"#{row.member_id} {', '.join(row.identities)} | access: {row.access_tier or 'none'} | {held}")
    if not found.rows:
        lines.append("No members yet.")
    nav = []
    if found.page > 1:
        nav.append(Button("Previous", command=f"members {found.page - 1}"))
    if found.page < found.pages:
        nav.append(Button("Next", command=f"members {found.page + 1}"))
    return Reply.text(
        *lines,
        title=f"Members: page {found.page} of {found.pages} ({found.total} listed)",
        buttons=(tuple(nav),) if nav else (),
    )


def _access_words(catalog: Catalog, tier_key: str | None) -> str:
    tier = catalog.tiers.get(tier_key) if tier_key else None
    return tier.name if tier else "none"


@COMMANDS.command(
    "grant", "Give someone a tier for free (a comp; no payment is faked)", args=GrantArgs, audience=Audience.ADMIN
)
async def grant(ctx: Invocation, args: GrantArgs) -> Reply:
    services = ctx.services
    async with services.db.write() as conn:
        granted = await grant_comp(
            conn,
            services.memberships,
            identity=args.identity,
            tier_key=args.tier,
            days=args.days,
            granted_by=ctx.caller.identity,
            now=services.clock.now(),
        )
    services.outbox_written()
    tier = services.catalog.tier(granted.tier)
    until = f"until {day(granted.ends_at)}" if granted.ends_at else "until /revoke"
    return Reply.text(
        f"{args.identity} has {tier.name} for free {until}. Stripe and their payments are untouched.",
        f"Access now: {_access_words(services.catalog, granted.access_tier)}.",
        title="Comp granted",
    )


@COMMANDS.command(
    "revoke", "End someone's comp (paid memberships stay as Stripe says)", args=RevokeArgs, audience=Audience.ADMIN
)
async def revoke(ctx: Invocation, args: RevokeArgs) -> Reply:
    services = ctx.services
    async with services.db.write() as conn:
        revoked = await revoke_comp(
            conn, services.memberships, identity=args.identity, revoked_by=ctx.caller.identity, now=services.clock.now()
        )
    services.outbox_written()
    return Reply.text(
        f"The comp of {args.identity} has ended.",
        f"Access now: {_access_words(services.catalog, revoked.access_tier)}.",
        title="Comp revoked",
    )


# The other command modules declare theirs on COMMANDS when imported; importing them here makes the table whole.
from bots import commands_admin, commands_drops, commands_packs, commands_requests  # noqa: E402, F401
