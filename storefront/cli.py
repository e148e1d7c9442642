"""The `storefront` command line."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import click
import typer
from typer.exceptions import TyperException

from drops import countdown_text
from entitlements.request_files import RequestFile
from storefront.app import App, running
from storefront.catalog import load_catalog
from storefront.catalog_sync import sync_catalog
from storefront.churn_cli import churn
from storefront.config import Settings
from storefront.db import Database
from storefront.db.backup import backup_sqlite, copy_database
from storefront.errors import ConfigError, StorefrontError
from storefront.member_report import member_report
from storefront.members import parse_identity
from storefront.money import format_money
from storefront.outbox_delivery import retry_held_deliveries, undelivered_steps
from storefront.pack_cli import license_cli, pack_cli
from webhooks.inbox import InboxStatus
from webhooks.reconcile import reconcile

__all__ = ["main"]

T = TypeVar("T")

cli = typer.Typer(
    name="storefront",
    help="A creator storefront on Discord and Telegram, driven by Stripe webhooks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
catalog_cli = typer.Typer(help="Check the catalog file or sync it with Stripe.", no_args_is_help=True)
member_cli = typer.Typer(help="Look up members.", no_args_is_help=True)
webhooks_cli = typer.Typer(help="The webhook inbox: list stored events, replay one.", no_args_is_help=True)
outbox_cli = typer.Typer(help="Deliveries to Discord/Telegram: problems, and retrying held ones.", no_args_is_help=True)
drops_cli = typer.Typer(help="Countdown drops and the payments admins must look at.", no_args_is_help=True)
db_cli = typer.Typer(help="Back up the store or copy it to another database.", no_args_is_help=True)
requests_cli = typer.Typer(help="Custom requests: the queue, and delivering files to a member.", no_args_is_help=True)
cli.add_typer(catalog_cli, name="catalog")
cli.add_typer(member_cli, name="member")
cli.add_typer(webhooks_cli, name="webhooks")
cli.add_typer(db_cli, name="db")
cli.add_typer(outbox_cli, name="outbox")
cli.add_typer(drops_cli, name="drops")
cli.add_typer(requests_cli, name="requests")
cli.command("churn")(churn)
cli.add_typer(pack_cli, name="pack")
cli.add_typer(license_cli, name="license")


class Role(StrEnum):
    WEB = "web"
    WORKER = "worker"
    BOTS = "bots"
    ALL = "all"


SPLIT_ROLES_ON_SQLITE = (
    "warning: on SQLite the processes of split roles share the file's one write lock, so a worker working through "
    "a backlog holds the web front's acknowledgements back; run one process (--role all) on SQLite, or split "
    "roles on PostgreSQL."
)


def _settings() -> Settings:
    return Settings()


def _with_app(
    work: Callable[[App], Awaitable[T]], *, migrate: bool = True, factory: Callable[[], App] | None = None
) -> T:
    async def go() -> T:
        app = factory() if factory is not None else App(_settings())
        try:
            if migrate:
                await app.migrate()
            return await work(app)
        finally:
            await app.close()

    return asyncio.run(go())


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


@cli.command()
def run(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default HTTP_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default HTTP_PORT).")] = None,
    role: Annotated[
        Role,
        typer.Option(
            help="web: webhooks, downloads, admin page; worker: process webhooks, run timers (one leader); "
            "bots: Discord/Telegram and delivery (one process only); all: everything."
        ),
    ] = Role.ALL,
) -> None:
    """Run the storefront: web app, webhook worker and timers. With no accounts configured, runs the demo."""
    settings = _settings()
    if not settings.has_any_account():
        typer.echo("No Stripe, Telegram or Discord account is configured: running the offline demo instead.")
        typer.echo("Set STRIPE_WEBHOOK_SECRET and the other keys in .env (see .env.example) to run for real.\n")
        demo()
        return
    if role in (Role.WEB, Role.ALL):
        settings.require_webhook_secret()

    async def serve() -> None:
        app = App(settings)
        if role is not Role.ALL and app.db.is_sqlite:
            typer.echo(SPLIT_ROLES_ON_SQLITE, err=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            async with running(
                app,
                host=host or settings.http_host,
                port=port or settings.http_port,
                web_server=role in (Role.WEB, Role.ALL),
                worker=role in (Role.WORKER, Role.ALL),
                chat=role in (Role.BOTS, Role.ALL),
            ) as serving:
                typer.echo(f"storefront ({role}) running" + (f" on {serving.url}" if serving.url else ""), err=True)
                await stop.wait()
        finally:
            await app.close()

    asyncio.run(serve())


@cli.command()
def migrate() -> None:
    """Apply database migrations (also done at start-up)."""
    settings = _settings()

    async def go() -> str:
        app = App(settings)
        try:
            await app.migrate()
            return app.db.redacted_url()
        finally:
            await app.close()

    typer.echo(f"database is up to date: {asyncio.run(go())}")


@catalog_cli.command("check")
def catalog_check(
    path: Annotated[Path | None, typer.Argument(help="Catalog file (default CATALOG_PATH).")] = None,
) -> None:
    """Validate the catalog file and summarise it."""
    catalog = load_catalog(path or _settings().catalog_path)
    for tier in catalog.tiers.values():
        annual = f", {format_money(tier.annual_price, tier.currency)}/year" if tier.annual_price else ""
        synced = "synced" if tier.stripe_monthly_price_id else "not synced with Stripe"
        monthly = format_money(tier.monthly_price, tier.currency)
        typer.echo(f"{tier.key}: {tier.name}, {monthly}/month{annual} ({synced})")
    typer.echo(f"catalog ok: {len(catalog.tiers)} tiers")


@catalog_cli.command("sync")
def catalog_sync(
    path: Annotated[Path | None, typer.Argument(help="Catalog file (default CATALOG_PATH).")] = None,
) -> None:
    """Create the Stripe products and prices the catalog lacks and write their ids back into it."""
    settings = _settings()
    catalog_path = path or settings.catalog_path
    load_catalog(catalog_path)
    stripe = App._stripe_from_settings(settings)
    if stripe is None:
        raise ConfigError("STRIPE_API_KEY is not set: catalog sync needs the Stripe API")
    created = asyncio.run(sync_catalog(catalog_path, stripe, progress=typer.echo))
    typer.echo(f"catalog synced: {created} Stripe objects created")


@member_cli.command("show")
def member_show(
    identity: Annotated[str, typer.Argument(help="telegram:<id>, discord:<id> or stripe:<customer id>")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (documented in README).")] = False,
) -> None:
    """Show a member: identities, granted tier, subscriptions."""
    identity = parse_identity(identity)
    report = _with_app(lambda app: member_report(app, identity))
    if as_json:
        _print_json(report)
        return
    typer.echo(f"member {report['member_id']}: {', '.join(report['identities'])}")
    typer.echo(f"access: {report['granted_tier'] or 'none'}")
    for sub in report["subscriptions"]:
        until = sub["access_until"] or sub["ended_at"] or "-"
        typer.echo(f"  {sub['id']}: {sub['tier'] or '?'} {sub['status']} (until {until})")


@webhooks_cli.command("list")
def webhooks_list(
    status: Annotated[InboxStatus | None, typer.Option(help="Only events with this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List stored webhook events, newest first."""
    entries = _with_app(lambda app: app.inbox.entries(status, limit))
    if as_json:
        _print_json([entry.model_dump(mode="json") for entry in entries])
        return
    for entry in entries:
        error = f"  error: {entry.last_error}" if entry.last_error else ""
        typer.echo(f"{entry.id}  {entry.type:<40} {entry.status:<9} attempts={entry.attempts}{error}")
    typer.echo(f"{len(entries)} events")


@webhooks_cli.command("replay")
def webhooks_replay(event_id: Annotated[str, typer.Argument(help="Stripe event id (evt_...).")]) -> None:
    """Process a stored event again (handlers are idempotent: nothing is doubled)."""

    async def go(app: App) -> str:
        await app.inbox.requeue(event_id)
        await app.worker.process(event_id)
        return (await app.inbox.entry(event_id)).status

    typer.echo(f"{event_id}: {_with_app(go)}")


@outbox_cli.command("problems")
def outbox_problems(
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Deliveries that did not reach their target: held for an admin, failed, unreachable, skipped."""
    steps = _with_app(lambda app: undelivered_steps(app.db, limit))
    if as_json:
        _print_json(steps)
        return
    for s in steps:
        typer.echo(f"{s['outbox_key']}  {s['target']:<24} {s['step']:<30} {s['status']:<11} {s['last_error'] or ''}")
    typer.echo(f"{len(steps)} steps")


@outbox_cli.command("retry")
def outbox_retry() -> None:
    """Re-queue deliveries held for an admin, after fixing what the alert said; the running bot sends them."""
    count = _with_app(lambda app: retry_held_deliveries(app.db, app.clock.now()))
    typer.echo(f"{count} held deliveries re-queued")


@drops_cli.command("list")
def drops_list(all_: Annotated[bool, typer.Option("--all", help="Also ended and cancelled drops.")] = False) -> None:
    """Drops with their countdown."""

    async def go(app: App) -> list[str]:
        views = await app.drops.list_drops(include_ended=all_)
        return [f"#{v.id} {v.title} {v.price} {v.phase}: {countdown_text(v, v.as_of)}" for v in views]

    for line in _with_app(go):
        typer.echo(line)


@drops_cli.command("issues")
def drops_issues() -> None:
    """Late payments to refund and disputes on drop purchases."""
    for i in _with_app(lambda app: app.drops.payment_issues()):
        amount = f"{i.amount_minor} {i.currency}"
        typer.echo(f"#{i.id} {i.kind} drop={i.drop_id} {i.identity} {i.payment_intent} {amount}: {i.reason}")


@drops_cli.command("resolve")
def drops_resolve(issue_id: Annotated[int, typer.Argument(help="The issue number from `drops issues`.")]) -> None:
    """Mark a payment issue as handled."""
    _with_app(lambda app: app.drops.resolve_issue(issue_id))
    typer.echo(f"issue #{issue_id} resolved")


def _app_factory(ctx: typer.Context) -> Callable[[], App] | None:
    """Tests hand an App factory in as the Typer context object; otherwise the App comes from the settings."""
    return ctx.obj if callable(ctx.obj) else None


@requests_cli.command("list")
def requests_list(ctx: typer.Context) -> None:
    """The open custom requests: overdue first, then oldest first."""

    async def go(app: App) -> list[str]:
        now = app.clock.now()
        lines = []
        for r in await app.requests.queue():
            flag = "OVERDUE " if r.overdue(now) else ""
            parts = [
                f"{flag}#{r.id} [{r.status.value}] {r.identity} ({r.tier}{', paid extra' if r.paid_extra else ''})"
            ]
            parts.append(f"due {r.due_at:%Y-%m-%d %H:%M UTC}: {r.brief.what}")
            parts += [f"format: {r.brief.format}"] if r.brief.format else []
            parts += [f"by: {r.brief.deadline_wish}"] if r.brief.deadline_wish else []
            parts += [f"ref: file {r.brief.reference_asset_id}"] if r.brief.reference_asset_id else []
            lines.append(" | ".join(parts))
        return lines or ["no open requests"]

    for line in _with_app(go, factory=_app_factory(ctx)):
        typer.echo(line)


@requests_cli.command("deliver")
def requests_deliver(
    ctx: typer.Context,
    request_id: Annotated[int, typer.Argument(help="The request number from `requests list`.")],
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Files for the member (each licensed to them, commercial).", exists=True, dir_okay=False),
    ] = None,
    note: Annotated[str, typer.Option("--note", help="What the member reads with the files.")] = "",
) -> None:
    """Deliver a request: store the files, license them to the member and send them the download links."""
    if not note.strip():
        raise typer.BadParameter("give the member a note with --note TEXT", param_hint="--note")

    async def go(app: App) -> list[str]:
        chosen = [RequestFile(path.name, path) for path in files or []]
        done = await app.requests.deliver(request_id, note, by="cli", files=chosen)
        assets = ", ".join(str(asset_id) for asset_id in await app.requests.delivered_files(done.id))
        sent = f"{len(chosen)} files (file numbers {assets})" if chosen else "a note, no files"
        return [f"request #{done.id} delivered to {done.identity}: {sent}; the member was told"]

    for line in _with_app(go, factory=_app_factory(ctx)):
        typer.echo(line)


@cli.command("reconcile")
def reconcile_command() -> None:
    """Read every subscription from Stripe and repair drift left by missed webhooks."""

    async def go(app: App) -> str:
        if app.stripe is None:
            raise ConfigError("STRIPE_API_KEY is not set: reconcile needs the Stripe API")
        report = await reconcile(
            db=app.db,
            clock=app.clock,
            stripe=app.stripe,
            memberships=app.memberships,
            progress=lambda done, total: typer.echo(f"  {done}/{total} subscriptions", err=True),
        )
        return f"reconciled {report.subscriptions_seen} subscriptions; {len(report.changes)} access changes"

    typer.echo(_with_app(go))


@db_cli.command("backup")
def db_backup(target: Annotated[Path, typer.Argument(help="New file to write the copy to.")]) -> None:
    """Copy the SQLite store to FILE while it runs (for PostgreSQL it tells you the pg_dump command)."""
    pages = _with_app(lambda app: backup_sqlite(app.db, target), migrate=False)
    typer.echo(f"backup written to {target} ({pages} pages)")


@db_cli.command("migrate-to")
def db_migrate_to(
    url: Annotated[str, typer.Argument(help="Target database, e.g. postgresql+asyncpg://user@host/db (empty).")],
) -> None:
    """Copy this store (DATABASE_URL) into a fresh database, e.g. from SQLite to PostgreSQL."""
    target = Database(url)

    async def go(app: App) -> dict[str, int]:
        try:
            return await copy_database(app.db, target, progress=lambda line: typer.echo(f"  {line}", err=True))
        finally:
            await target.dispose()

    copied = _with_app(go)
    typer.echo(f"copied {sum(copied.values())} rows in {len(copied)} tables to {target.redacted_url()}")


@cli.command()
def demo() -> None:
    """Play the whole story offline: no accounts, local stand-ins, locally signed events."""
    from storefront.demo.story import play

    asyncio.run(play(typer.echo))


def main(argv: list[str] | None = None) -> None:
    """Entry point: bad input and domain errors are printed as one line, exit status 2."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    command = typer.main.get_command(cli)
    try:
        command.main(args=argv, prog_name="storefront", standalone_mode=False)
    except (typer.Exit, click.exceptions.Exit) as done:
        sys.exit(done.exit_code)
    except (typer.Abort, click.exceptions.Abort):
        sys.exit(130)
    except TyperException as error:
        usage = getattr(error, "ctx", None)
        if type(error).__name__ == "NoArgsIsHelpError":
            typer.echo(error.format_message(), err=True)  # a bare group: show its help
        else:
            where = f" (try: {usage.command_path} --help)" if usage is not None else ""
            typer.echo(f"error: {error.format_message()}{where}", err=True)
        sys.exit(2)
    except StorefrontError as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)
