"""The composition root: builds every part from the settings once and hands dependencies down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from drops import DropOptions, DropService, DropTimers
from entitlements import AccessChange, MembershipService
from entitlements.certificates import LicenseSigner
from entitlements.downloads import DownloadGateway, DownloadLinks, TokenSigner, load_or_create_token_key
from entitlements.license_purchases import LicenseSales
from entitlements.licenses import LicenseCatalog, load_license_catalog
from entitlements.packs import PackService
from entitlements.request_files import RequestFiles
from entitlements.request_payments import RequestPayments
from entitlements.requests import RequestService
from storefront.blobs import BlobStore, blob_store_from_settings
from storefront.catalog import Catalog, load_catalog
from storefront.churn import ChurnReports
from storefront.clock import Clock, SystemClock
from storefront.collector import tuned_for_bursts
from storefront.config import Settings
from storefront.db import Database
from storefront.db.migrate import upgrade
from storefront.errors import StripeUnavailable
from storefront.leader import LeaderElection
from storefront.stripe_gateway import StripeGateway
from webhooks.admin import add_admin_routes
from webhooks.dispatch import Dispatcher
from webhooks.downloads import add_download_routes
from webhooks.inbox import Inbox
from webhooks.membership_events import MembershipEventHandlers
from webhooks.purchases import PurchaseRegistry
from webhooks.reconcile import reconcile
from webhooks.signature import WebhookVerifier
from webhooks.web import create_web_app
from webhooks.worker import InboxWorker

__all__ = ["App", "Running"]

log = logging.getLogger(__name__)


class App:
    """Everything the process needs, built from settings; tests build their own with a fake clock."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        catalog: Catalog | None = None,
        stripe: StripeGateway | None = None,
        licenses: LicenseCatalog | None = None,
        blobs: BlobStore | None = None,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.catalog = catalog or load_catalog(settings.catalog_path)
        self.db = Database(settings.database_url)
        self.stripe = stripe or self._stripe_from_settings(settings)
        self.memberships = MembershipService(self.catalog, timedelta(days=settings.grace_period_days))
        self.purchases = PurchaseRegistry()
        self.dispatcher = Dispatcher()
        MembershipEventHandlers(self.memberships, self.purchases, self.stripe).register(self.dispatcher)
        self.timer_setups: list[TimerSetup] = []  # each domain adds the timers it re-arms from the database
        self._wire_packs_and_licenses(licenses, blobs)
        self._wire_drops()
        self._wire_requests()
        self.churn_reports = ChurnReports(self.db, self.catalog, self.clock, self.memberships.grace)
        self.inbox = Inbox(self.db, self.clock)
        self.worker = InboxWorker(
            self.db, self.clock, self.inbox, self.dispatcher, max_attempts=settings.webhook_max_attempts
        )

    def _wire_packs_and_licenses(self, licenses: LicenseCatalog | None, blobs: BlobStore | None) -> None:
        settings = self.settings
        self.licenses = licenses or load_license_catalog(settings.catalog_path)
        self.licenses.check_tiers(self.catalog)
        self.blobs = blobs or blob_store_from_settings(settings)
        token_key = (
            settings.download_token_key.get_secret_value().encode()
            if settings.download_token_key
            else load_or_create_token_key(settings.download_token_key_path)
        )
        self.download_tokens = TokenSigner(token_key)
        links = DownloadLinks(self.download_tokens, settings.public_base_url)
        self.license_signer = LicenseSigner.load_or_create(settings.license_signing_key_path)
        self.packs = PackService(
            db=self.db,
            clock=self.clock,
            blobs=self.blobs,
            links=links,
            catalog=self.catalog,
            licenses=self.licenses,
            batch_size=settings.pack_fanout_batch,
        )
        self.downloads = DownloadGateway(
            db=self.db,
            clock=self.clock,
            tokens=self.download_tokens,
            catalog=self.catalog,
            licenses=self.licenses,
            signer=self.license_signer,
            pack_access=self.packs,
            public_base_url=settings.public_base_url,
        )
        self.license_sales = LicenseSales(
            db=self.db,
            clock=self.clock,
            stripe=self.stripe,
            licenses=self.licenses,
            links=links,
            public_base_url=settings.public_base_url,
        )
        self.purchases.register("license", self.license_sales)
        self.memberships.access_listeners.append(self.packs.on_access_change)
        self.timer_setups.append(self._pack_timers)

    def _wire_drops(self) -> None:
        settings, base = self.settings, self.settings.public_base_url.rstrip("/")
        options = DropOptions(
            hold_minutes=settings.drop_hold_minutes,
            waitlist_hold_minutes=settings.drop_waitlist_hold_minutes,
            restock_on_refund=settings.drop_refund_restock,
            reminder_lead_minutes=settings.drop_reminder_minutes,
            checkout_links_per_second=settings.drop_checkout_links_per_second,
            success_url=f"{base}/checkout/success",
            cancel_url=f"{base}/checkout/cancel",
        )
        self.drops = DropService(self.db, self.clock, self.catalog, stripe=self.stripe, options=options)
        self.purchases.register("drop", self.drops.purchases)
        self.timer_setups.append(DropTimers(self.drops, sweep_seconds=settings.drop_sweep_seconds))

    def _wire_requests(self) -> None:
        settings = self.settings
        self.request_payments = RequestPayments(
            db=self.db,
            clock=self.clock,
            catalog=self.catalog,
            stripe=self.stripe,
            public_base_url=settings.public_base_url,
        )
        files = RequestFiles(
            blobs=self.blobs,
            links=DownloadLinks(self.download_tokens, settings.public_base_url),
            licenses=self.licenses,
        )
        # Overdue requests are flagged to every configured admin, on each platform (as delivery problems are).
        admins = [f"telegram:{i}" for i in settings.admin_telegram_ids]
        admins += [f"discord:{i}" for i in settings.admin_discord_ids]
        self.requests = RequestService(
            self.db, self.clock, self.catalog, payments=self.request_payments, files=files, alert_to=admins
        )
        self.purchases.register("request", self.request_payments)
        self.timer_setups.append(self._request_timers)

    async def _request_timers(self, scheduler: AsyncIOScheduler) -> None:
        scheduler.add_job(self.requests.flag_overdue, "interval", minutes=10, id="request-overdue", max_instances=1)

    async def _pack_timers(self, scheduler: AsyncIOScheduler) -> None:
        scheduler.add_job(self.packs.run_due_fanouts, "interval", seconds=60, id="pack-fanout", max_instances=1)

    @staticmethod
    def _stripe_from_settings(settings: Settings) -> StripeGateway | None:
        if settings.stripe_api_key is None:
            return None
        return StripeGateway(
            settings.stripe_api_key.get_secret_value(),
            api_base=settings.stripe_api_base,
            requests_per_second=settings.stripe_requests_per_second,
        )

    async def migrate(self) -> None:
        await upgrade(self.db)

    def web_app(self) -> web.Application:
        """The HTTP app; refuses to build without a webhook secret."""
        verifier = WebhookVerifier(self.settings.require_webhook_secret())
        app = create_web_app(db=self.db, inbox=self.inbox, verifier=verifier, on_event_stored=self.worker.wake)
        add_download_routes(
            app,
            gateway=self.downloads,
            blobs=self.blobs,
            signer=self.license_signer,
            db=self.db,
            clock=self.clock,
            presign_seconds=self.settings.download_presign_seconds,
        )
        token = self.settings.admin_token
        add_admin_routes(
            app,
            reports=self.churn_reports,
            clock=self.clock,
            admin_token=token.get_secret_value() if token else None,
            secure_cookies=self.settings.public_base_url.startswith("https://"),
        )
        return app

    async def expire_due_access(self) -> list[AccessChange]:
        """Sweep: end access whose grace period or paid-up period ran out (time is data, this only applies it)."""
        async with self.db.write() as conn:
            changes = await self.memberships.expire_due(conn, self.clock.now())
        if changes:
            log.info("access expired for %d members", len(changes))
        return changes

    async def reconcile_with_stripe(self) -> None:
        """Periodic repair of drift from missed webhooks; a failed fetch is logged and changes nothing."""
        if self.stripe is None:
            return
        try:
            report = await reconcile(db=self.db, clock=self.clock, stripe=self.stripe, memberships=self.memberships)
        except StripeUnavailable as error:
            log.warning("scheduled reconcile skipped: %s", error)
            return
        log.info("reconciled %d subscriptions, %d access changes", report.subscriptions_seen, len(report.changes))

    async def close(self) -> None:
        await self.inbox.close()
        await self.downloads.close()
        await self.db.dispose()


@dataclass
class Running:
    url: str | None
    app: App


TimerSetup = Callable[[AsyncIOScheduler], Awaitable[None]]


def _core_timers(app: App) -> TimerSetup:
    async def arm(scheduler: AsyncIOScheduler) -> None:
        scheduler.add_job(app.expire_due_access, "interval", seconds=60, id="expire-due-access")
        scheduler.add_job(app.reconcile_with_stripe, "interval", hours=6, id="reconcile-with-stripe")

    return arm


class _Timers:
    """The APScheduler instance of the scheduler leader; built from the database each time leadership starts."""

    def __init__(self, setups: list[TimerSetup]) -> None:
        self._setups = setups
        self._scheduler: AsyncIOScheduler | None = None

    async def start(self) -> None:
        scheduler = AsyncIOScheduler(job_defaults={"misfire_grace_time": 3600, "coalesce": True})
        for setup in self._setups:
            await setup(scheduler)
        scheduler.start()
        self._scheduler = scheduler

    async def stop(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._scheduler = None


@asynccontextmanager
async def running(
    app: App, *, host: str, port: int, worker: bool = True, web_server: bool = True, chat: bool = False
) -> AsyncIterator[Running]:
    """Run the parts of the process until the block exits, then shut them down cleanly.

    `web_server`: accept webhooks, downloads, the admin page. `worker`: process the inbox and, while this
    process is the elected leader, run the timers. `chat`: run the configured bots and deliver the outbox
    through them. `storefront run --role web|worker|bots|all` picks which.
    """
    await app.migrate()
    app.drops.start()  # the claim writer: every process that takes clicks runs one
    runner: web.AppRunner | None = None
    url = None
    if web_server:
        runner = web.AppRunner(app.web_app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        url = f"http://{host}:{runner.addresses[0][1]}"
    tasks: list[asyncio.Task[None]] = []
    timers = _Timers([_core_timers(app), *app.timer_setups])
    bots = AsyncExitStack()
    if worker:
        await app.worker.drain()  # events stored before a crash are processed at start-up
        tasks.append(asyncio.create_task(app.worker.run(), name="webhook-inbox-worker"))
        election = LeaderElection(app.db, on_elected=timers.start, on_deposed=timers.stop)
        await election.try_acquire()
        tasks.append(asyncio.create_task(election.run(), name="scheduler-leader-election"))
    try:
        if chat and app.settings.has_chat_platform():
            # Imported here so storefront/ itself never loads discord or telegram. Exactly one process of a
            # deployment runs the bots (role bots or all): two pollers of one bot would conflict.
            from bots.runtime import run_bots

            await bots.enter_async_context(run_bots(app))
        with tuned_for_bursts():
            yield Running(url=url, app=app)
    finally:
        await bots.aclose()  # bots and delivery stop first, while the database is still open
        await app.drops.stop()
        for task in reversed(tasks):
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        await timers.stop()
        if runner is not None:
            await runner.cleanup()
