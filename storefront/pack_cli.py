"""`storefront pack ...` and `storefront license ...`: Typer sub-apps mounted by storefront.cli.

Commands run against the App built from the settings; tests pass another factory as the Typer context object.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from entitlements.certificates import Verdict, Verification, check_file, verify_certificate, verify_presented
from entitlements.packs import FanoutProgress
from storefront.clock import SystemClock

__all__ = ["license_cli", "pack_cli"]

T = TypeVar("T")

pack_cli = typer.Typer(help="Monthly packs: add files, schedule, send, list.", no_args_is_help=True)
license_cli = typer.Typer(help="License certificates: verify one.", no_args_is_help=True)


@license_cli.callback()
def _license_group() -> None:
    """License certificates."""  # a callback keeps `license` a group even with a single command


def _default_app() -> Any:
    from storefront.app import App
    from storefront.config import Settings

    return App(Settings())


def _with_app(ctx: typer.Context, work: Callable[[Any], Awaitable[T]]) -> T:
    factory = ctx.obj if callable(ctx.obj) else _default_app

    async def go() -> T:
        app = factory()
        try:
            await app.migrate()
            return await work(app)
        finally:
            await app.close()

    return asyncio.run(go())


def _moment(text: str) -> datetime:
    """An ISO date-time; without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date-time like 2026-12-01T15:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _print_summary(summary: Any) -> None:
    for asset in summary.assets:
        tags = f" [{', '.join(asset.tags)}]" if asset.tags else ""
        typer.echo(
            f"  {asset.id:>5}  {asset.filename}  {asset.size} bytes  sha256 {asset.sha256[:12]}  {asset.title}{tags}"
        )
    state = "not sent yet"
    if summary.fanout_completed_at:
        state = f"sent to {summary.delivered_to} members"
    elif summary.fanout_started_at:
        state = f"sending: {summary.delivered_to} members so far"
    typer.echo(
        f"pack {summary.month} ({summary.title}): {len(summary.assets)} files, "
        f"goes out {summary.deliver_at:%Y-%m-%d %H:%M UTC}, {state}"
    )


@pack_cli.command("add")
def pack_add(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Folder of files; an optional pack.toml describes them.")],
    month: Annotated[str, typer.Option("--month", help="The pack's month, YYYY-MM.")],
    title: Annotated[str | None, typer.Option(help="Pack title (default: pack.toml's, or the month).")] = None,
    deliver_at: Annotated[
        str | None, typer.Option("--deliver-at", help="When it goes out, ISO date-time UTC (default: catalog).")
    ] = None,
) -> None:
    """Store a folder's files and register them as the month's pack (repeatable: nothing is added twice)."""
    when = _moment(deliver_at) if deliver_at else None
    summary = _with_app(ctx, lambda app: app.packs.add_pack_dir(month, directory, title=title, deliver_at=when))
    _print_summary(summary)


@pack_cli.command("schedule")
def pack_schedule(
    ctx: typer.Context,
    month: Annotated[str, typer.Argument(help="YYYY-MM")],
    at: Annotated[str, typer.Argument(help="ISO date-time, UTC if no zone is given.")],
) -> None:
    """Set when a pack goes out."""
    _print_summary(_with_app(ctx, lambda app: app.packs.schedule(month, _moment(at))))


@pack_cli.command("list")
def pack_list(ctx: typer.Context) -> None:
    """Every pack, newest first, with its files and delivery state."""
    summaries = _with_app(ctx, lambda app: app.packs.list_packs())
    for summary in summaries:
        _print_summary(summary)
    if not summaries:
        typer.echo("no packs yet: storefront pack add DIR --month YYYY-MM")


@pack_cli.command("send")
def pack_send(
    ctx: typer.Context,
    month: Annotated[str, typer.Argument(help="YYYY-MM")],
    now: Annotated[bool, typer.Option("--now", help="Send now instead of at the scheduled time.")] = False,
) -> None:
    """Run (or resume) a pack's fan-out, with progress; sends each member the pack at most once."""

    def progress(step: FanoutProgress) -> None:
        typer.echo(f"  {step.handled}/{step.total} members, {step.queued} messages queued", err=True)

    async def go(app: Any) -> Any:
        if now:
            await app.packs.schedule(month, app.clock.now())
        return await app.packs.fan_out(month, progress)

    report = _with_app(ctx, go)
    typer.echo(f"pack {report.month}: {report.queued} messages queued, {report.handled}/{report.total} members done")


def _describe(verification: Verification) -> None:
    typer.echo(f"{verification.verdict.value}: {verification.message}")
    certificate = verification.certificate
    if certificate and verification.verdict not in (Verdict.MALFORMED, Verdict.BAD_SIGNATURE, Verdict.UNKNOWN_KEY):
        asset, license_ = certificate.get("asset", {}), certificate.get("license", {})
        typer.echo(f"  license {certificate.get('id')}: {license_.get('name')} ({license_.get('kind')})")
        typer.echo(f"  file: {asset.get('filename')} sha256 {asset.get('sha256')}")
        licensee = certificate.get("licensee", {}).get("member_id")
        typer.echo(f"  licensee: member {licensee}, since {certificate.get('issued_at')}")
        typer.echo(f"  terms version: {license_.get('terms_sha256')}")


@license_cli.command("verify")
def license_verify(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The license certificate (JSON) to check.")],
    asset: Annotated[Path | None, typer.Option(help="Also check that this file is the licensed one.")] = None,
    key: Annotated[
        Path | None, typer.Option(help="Verify offline with this public key (PEM) instead of the store's records.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Check a certificate: signature, revocation, and optionally the file's bytes. Exit status 0 only if VALID."""
    data = file.read_bytes()
    if key is not None:
        public_key = load_pem_public_key(key.read_bytes())
        if not isinstance(public_key, Ed25519PublicKey):
            raise typer.BadParameter(f"{key} is not an Ed25519 public key")
        verification = verify_certificate(data, public_key, now=SystemClock().now())
    else:

        async def go(app: Any) -> Verification:
            async with app.db.read() as conn:
                return await verify_presented(conn, app.license_signer, data, app.clock.now())

        verification = _with_app(ctx, go)
    if asset is not None:
        verification = check_file(verification, asset.read_bytes())
    if as_json:
        typer.echo(json.dumps(verification.to_json(), indent=2, sort_keys=True))
    else:
        _describe(verification)
    if not verification.valid:
        raise typer.Exit(1)
