"""The pack service: adding and scheduling packs, the resumable fan-out, and what each member may download."""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from entitlements.asset_tables import assets, download_quota_usage, license_purchases, pack_deliveries, packs
from entitlements.downloads import DownloadLinks
from entitlements.licenses import LicenseCatalog
from entitlements.membership import ObservationKind
from entitlements.memberships import AccessChange
from entitlements.packs._errors import (
    AssetConflict,
    EmptyPack,
    NoPackAccess,
    PackAlreadyDelivered,
    PackNotDue,
    UnknownPack,
)
from entitlements.packs._files import PackFile, asset_row, read_pack_dir
from entitlements.packs._months import parse_month
from entitlements.packs._views import (
    AssetInfo,
    AssetLink,
    FanoutProgress,
    FanoutReport,
    MemberPack,
    MemberPacks,
    PackSummary,
)
from storefront.blobs import BlobMetadata, BlobStore, safe_filename
from storefront.catalog import Catalog, Tier
from storefront.clock import Clock
from storefront.db import Database, in_list, insert_ignore
from storefront.db.tables import billing_events, members, subscriptions
from storefront.members import find_member, parse_identity
from storefront.months import month_name, month_of
from storefront.outbox import OutboxKind, enqueue

log = logging.getLogger(__name__)

MAX_BUTTONS = 10


class PackService:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        blobs: BlobStore,
        links: DownloadLinks,
        catalog: Catalog,
        licenses: LicenseCatalog,
        batch_size: int = 200,
    ) -> None:
        self._db = db
        self._clock = clock
        self._blobs = blobs
        self._links = links
        self._catalog = catalog
        self._licenses = licenses
        self._rules = licenses.packs
        self._batch = batch_size

    # Creator: add and schedule ----------------------------------------------------------------------------

    def default_delivery(self, month: str) -> datetime:
        """The first of the month (or the catalog's delivery day) at the catalog's delivery hour, UTC."""
        year, number = (int(part) for part in parse_month(month).split("-"))
        return datetime(year, number, self._rules.delivery_day, self._rules.delivery_hour, tzinfo=UTC)

    async def add_pack(
        self, month: str, files: Sequence[PackFile], *, title: str | None = None, deliver_at: datetime | None = None
    ) -> PackSummary:
        """Store the files and register them as the month's pack (adding to it if it exists).

        Adding the same file under the same name again changes nothing, so an interrupted run can be repeated.
        """
        month = parse_month(month)
        if not files:
            raise EmptyPack(month)
        async with self._db.read() as conn:
            existing = (await conn.execute(sa.select(packs).where(packs.c.month == month))).first()
        if existing is not None and existing.fanout_started_at is not None:
            raise PackAlreadyDelivered(month)
        stored = []
        for file in files:
            filename = safe_filename(file.name)
            content_type = file.content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
            metadata = BlobMetadata(
                title=(file.title or Path(filename).stem).strip()[:200] or filename,
                tags=file.tags,
                created_at=file.created_at,
                notes=file.notes,
            )
            blob = await self._blobs.put(file.source, filename=filename, content_type=content_type, metadata=metadata)
            stored.append((filename, blob))
        now = self._clock.now()
        async with self._db.write() as conn:
            await insert_ignore(
                conn,
                packs,
                {
                    "month": month,
                    "title": (title or f"{month_name(month)} pack")[:200],
                    "deliver_at": deliver_at or self.default_delivery(month),
                    "created_at": now,
                },
                ["month"],
            )
            pack = (await conn.execute(sa.select(packs).where(packs.c.month == month))).one()
            if pack.fanout_started_at is not None:
                raise PackAlreadyDelivered(month)
            changes: dict[str, Any] = {}
            if title and existing is not None:
                changes["title"] = title[:200]
            if deliver_at and existing is not None:
                changes["deliver_at"] = deliver_at
            if changes:
                await conn.execute(sa.update(packs).where(packs.c.id == pack.id).values(**changes))
            for filename, blob in stored:
                await self._add_asset(conn, pack.id, month, filename, blob, now)
        return await self.summary(month)

    async def _add_asset(
        self, conn: AsyncConnection, pack_id: int, month: str, filename: str, blob: Any, now: datetime
    ) -> None:
        current = await conn.scalar(
            sa.select(assets.c.sha256).where(assets.c.pack_id == pack_id, assets.c.filename == filename)
        )
        if current is not None:
            if current != blob.sha256:
                raise AssetConflict(month, filename)
            return
        await conn.execute(sa.insert(assets).values(asset_row(blob, pack_id=pack_id, filename=filename, now=now)))

    async def add_pack_dir(
        self, month: str, directory: Path, *, title: str | None = None, deliver_at: datetime | None = None
    ) -> PackSummary:
        """`storefront pack add DIR --month YYYY-MM`."""
        manifest_title, files = read_pack_dir(directory)
        return await self.add_pack(month, files, title=title or manifest_title, deliver_at=deliver_at)

    async def schedule(self, month: str, deliver_at: datetime) -> PackSummary:
        """`/pack schedule`: when the pack goes out (before it has gone out)."""
        month = parse_month(month)
        if deliver_at.tzinfo is None:
            raise ValueError("deliver_at must be timezone-aware")
        async with self._db.write() as conn:
            pack = (await conn.execute(sa.select(packs).where(packs.c.month == month))).first()
            if pack is None:
                raise UnknownPack(month)
            if pack.fanout_started_at is not None:
                raise PackAlreadyDelivered(month)
            await conn.execute(sa.update(packs).where(packs.c.id == pack.id).values(deliver_at=deliver_at))
        return await self.summary(month)

    async def summary(self, month: str) -> PackSummary:
        month = parse_month(month)
        async with self._db.read() as conn:
            pack = (await conn.execute(sa.select(packs).where(packs.c.month == month))).first()
            if pack is None:
                raise UnknownPack(month)
            return await self._summary(conn, pack)

    async def list_packs(self) -> list[PackSummary]:
        async with self._db.read() as conn:
            rows = (await conn.execute(sa.select(packs).order_by(packs.c.month.desc()))).all()
            return [await self._summary(conn, pack) for pack in rows]

    async def _summary(self, conn: AsyncConnection, pack: Any) -> PackSummary:
        rows = await conn.execute(sa.select(assets).where(assets.c.pack_id == pack.id).order_by(assets.c.id))
        delivered = await conn.scalar(
            sa.select(sa.func.count()).select_from(pack_deliveries).where(pack_deliveries.c.pack_id == pack.id)
        )
        return PackSummary(
            id=pack.id,
            month=pack.month,
            title=pack.title,
            deliver_at=pack.deliver_at,
            assets=[
                AssetInfo(a.id, a.filename, a.title, a.sha256, a.size, a.content_type, tuple(a.tags), a.notes)
                for a in rows
            ],
            delivered_to=delivered or 0,
            fanout_started_at=pack.fanout_started_at,
            fanout_completed_at=pack.fanout_completed_at,
        )

    # Delivery ---------------------------------------------------------------------------------------------

    def _tiers_with_packs(self) -> list[str]:
        return [
            key
            for key, tier in self._catalog.tiers.items()
            if tier.grants.monthly_downloads > 0 and self._licenses.primary_kind(tier) is not None
        ]

    async def run_due_fanouts(self, progress: Callable[[FanoutProgress], None] | None = None) -> list[FanoutReport]:
        """The scheduled job: deliver every pack whose time has come and whose fan-out has not finished."""
        now = self._clock.now()
        async with self._db.read() as conn:
            due = list(
                await conn.scalars(
                    sa.select(packs.c.month)
                    .where(packs.c.deliver_at <= now, packs.c.fanout_completed_at.is_(None))
                    .order_by(packs.c.deliver_at)
                )
            )
        return [await self.fan_out(month, progress) for month in due]

    async def fan_out(self, month: str, progress: Callable[[FanoutProgress], None] | None = None) -> FanoutReport:
        """Queue the pack message for every entitled member not yet sent it; resumes where a previous run stopped."""
        month = parse_month(month)
        tiers = self._tiers_with_packs()
        async with self._db.read() as conn:
            pack = (await conn.execute(sa.select(packs).where(packs.c.month == month))).first()
            if pack is None:
                raise UnknownPack(month)
            if pack.deliver_at > self._clock.now():
                raise PackNotDue(month, pack.deliver_at)
            eligible = members.c.granted_tier.in_(tiers)
            total = await conn.scalar(sa.select(sa.func.count()).select_from(members).where(eligible)) or 0
            handled = (
                await conn.scalar(
                    sa.select(sa.func.count()).select_from(members).where(eligible, members.c.id <= pack.fanout_cursor)
                )
                or 0
            )
            pack_assets = (
                await conn.execute(sa.select(assets).where(assets.c.pack_id == pack.id).order_by(assets.c.id))
            ).all()
        report = FanoutReport(month=month, handled=handled, total=total, completed=pack.fanout_completed_at is not None)
        cursor = pack.fanout_cursor
        while not report.completed:
            now = self._clock.now()
            async with self._db.write() as conn:
                if report.batches == 0:
                    await conn.execute(
                        sa.update(packs)
                        .where(packs.c.id == pack.id, packs.c.fanout_started_at.is_(None))
                        .values(fanout_started_at=now)
                    )
                batch = (
                    await conn.execute(
                        sa.select(members.c.id, members.c.granted_tier)
                        .where(members.c.granted_tier.in_(tiers), members.c.id > cursor)
                        .order_by(members.c.id)
                        .limit(self._batch)
                    )
                ).all()
                for member in batch:
                    tier = self._catalog.tiers[member.granted_tier]
                    if await self._queue_delivery(conn, pack, pack_assets, member.id, tier, now, "fanout"):
                        report.queued += 1
                if batch:
                    cursor = batch[-1].id
                    await conn.execute(
                        sa.update(packs)
                        .where(packs.c.id == pack.id, packs.c.fanout_cursor < cursor)
                        .values(fanout_cursor=cursor)
                    )
                else:
                    await conn.execute(sa.update(packs).where(packs.c.id == pack.id).values(fanout_completed_at=now))
                    report.completed = True
            report.batches += 1
            report.handled += len(batch)
            if batch:
                log.info(
                    "pack %s fan-out: %d/%d members, %d queued", month, report.handled, report.total, report.queued
                )
                if progress is not None:
                    progress(FanoutProgress(month, report.handled, report.total, report.queued))
        return report

    async def deliver_current_pack_to(self, conn: AsyncConnection, member_id: int, now: datetime) -> bool:
        """Queue the current month's pack for a member who just gained access (if it is out and theirs).

        Call inside the transaction that granted the access; True when a message was queued.
        """
        pack = (
            await conn.execute(sa.select(packs).where(packs.c.month == month_of(now), packs.c.deliver_at <= now))
        ).first()
        if pack is None:
            return False
        granted = await conn.scalar(sa.select(members.c.granted_tier).where(members.c.id == member_id))
        if granted not in self._tiers_with_packs():
            return False
        pack_assets = (
            await conn.execute(sa.select(assets).where(assets.c.pack_id == pack.id).order_by(assets.c.id))
        ).all()
        return await self._queue_delivery(
            conn, pack, pack_assets, member_id, self._catalog.tiers[granted], now, "joined"
        )

    async def on_access_change(self, conn: AsyncConnection, change: AccessChange, now: datetime) -> None:
        """Hook for MembershipService: a member who gains a tier mid-month gets the current pack at once."""
        if change.to_tier is not None:
            await self.deliver_current_pack_to(conn, change.member_id, now)

    async def _queue_delivery(
        self,
        conn: AsyncConnection,
        pack: Any,
        pack_assets: Sequence[Any],
        member_id: int,
        tier: Tier,
        now: datetime,
        reason: str,
    ) -> bool:
        kind = self._licenses.primary_kind(tier)
        if kind is None or not pack_assets:
            return False
        if not await insert_ignore(
            conn,
            pack_deliveries,
            {"pack_id": pack.id, "member_id": member_id, "queued_at": now, "reason": reason},
            ["pack_id", "member_id"],
        ):
            return False
        expires_at = now + timedelta(days=self._rules.link_days)
        links = [self._link(asset, member_id, kind, expires_at) for asset in pack_assets]
        await enqueue(
            conn,
            key=f"notify:pack:{pack.id}:{member_id}",
            kind=OutboxKind.NOTIFY,
            payload=self._pack_message(pack, links, expires_at),
            now=now,
            member_id=member_id,
        )
        return True

    def _link(self, asset: Any, member_id: int, kind: str, expires_at: datetime) -> AssetLink:
        return AssetLink(
            asset_id=asset.id,
            title=asset.title,
            filename=asset.filename,
            size=asset.size,
            license_kind=kind,
            license_name=self._licenses.license(kind).name,
            url=self._links.url(member_id=member_id, asset_id=asset.id, license_kind=kind, expires_at=expires_at),
            expires_at=expires_at,
        )

    def _pack_message(self, pack: Any, links: list[AssetLink], expires_at: datetime) -> dict[str, Any]:
        count = f"{len(links)} file" + ("s" if len(links) != 1 else "")
        text = (
            f"Your {month_name(pack.month)} pack is here: {pack.title}. {count}, yours under the "
            f"{links[0].license_name} license. The links work until {expires_at:%d %b %Y}; "
            "send /packs any time for fresh ones."
        )
        if len(links) > MAX_BUTTONS:
            text += f" Showing {MAX_BUTTONS} of {len(links)} files here; /packs lists them all."
        return {
            "template": "pack_ready",
            "text": text,
            "buttons": [{"label": link.title[:64], "url": link.url} for link in links[:MAX_BUTTONS]],
            "pack_month": pack.month,
        }

    # Access -----------------------------------------------------------------------------------------------

    def unlocked_packs(
        self, conn: sa.Connection, member_ids: Collection[int], now: datetime
    ) -> dict[int, dict[int, str]]:
        """PackAccess for the download gateway: per member, the released packs they may download, each with why
        (current, delivered or tenure). A few statements however many members are asked about."""
        released = conn.execute(_RELEASED_PACKS, {"now": now}).all()
        delivered: dict[int, set[int]] = {member_id: set() for member_id in member_ids}
        for member_id, pack_id in conn.execute(_DELIVERED_PACKS, {"member_ids": list(member_ids)}):
            delivered[member_id].add(pack_id)
        months_paid = _paid_months(conn, member_ids)
        current = month_of(now)
        found = {}
        for member_id in member_ids:
            unlocked: dict[int, str] = {}
            for pack in released:
                if pack.id in delivered[member_id]:
                    unlocked[pack.id] = "delivered"
                elif pack.month >= current:
                    unlocked[pack.id] = "current"
            back = [pack for pack in released if pack.id not in unlocked]
            allowance = self._rules.back_packs_on_join + self._rules.back_packs_per_paid_month * months_paid[member_id]
            for pack in back[:allowance]:
                unlocked[pack.id] = "tenure"
            found[member_id] = unlocked
        return found

    async def _unlocked(self, conn: AsyncConnection, member_id: int, now: datetime) -> dict[int, str]:
        return (await conn.run_sync(self.unlocked_packs, [member_id], now))[member_id]

    async def paid_months(self, conn: AsyncConnection, member_id: int) -> int:
        """Months of paid tenure: paid invoices with an amount (a year's invoice counts twelve); trials do not count."""
        return (await conn.run_sync(_paid_months, [member_id]))[member_id]

    async def packs_for(self, identity: str) -> MemberPacks:
        """`/packs`: the member's packs and bought licenses, with fresh links; NoPackAccess if there are none."""
        identity = parse_identity(identity)
        now = self._clock.now()
        async with self._db.read() as conn:
            member_id = await find_member(conn, identity)
            if member_id is None:
                raise NoPackAccess()
            granted = await conn.scalar(sa.select(members.c.granted_tier).where(members.c.id == member_id))
            tier = self._catalog.tiers.get(granted) if granted in self._tiers_with_packs() else None
            kind = self._licenses.primary_kind(tier) if tier else None
            member_packs: list[MemberPack] = []
            locked = 0
            left = None
            expires_at = now + timedelta(days=self._rules.link_days)
            if tier is not None and kind is not None:
                unlocked = await self._unlocked(conn, member_id, now)
                released = (
                    await conn.execute(sa.select(packs).where(packs.c.deliver_at <= now).order_by(packs.c.month.desc()))
                ).all()
                for pack in released:
                    if pack.id not in unlocked:
                        locked += 1
                        continue
                    rows = (
                        await conn.execute(sa.select(assets).where(assets.c.pack_id == pack.id).order_by(assets.c.id))
                    ).all()
                    links = [self._link(asset, member_id, kind, expires_at) for asset in rows]
                    member_packs.append(MemberPack(pack.month, pack.title, unlocked[pack.id], links))
                used = await conn.scalar(
                    sa.select(download_quota_usage.c.used).where(
                        download_quota_usage.c.member_id == member_id,
                        download_quota_usage.c.period == month_of(now),
                    )
                )
                left = max(0, tier.grants.monthly_downloads - (used or 0))
            licensed = await self._licensed_links(conn, member_id, now, expires_at)
        if tier is None and not licensed:
            raise NoPackAccess()
        return MemberPacks(
            tier_name=tier.name if tier else None,
            license_name=self._licenses.license(kind).name if kind else None,
            packs=member_packs,
            licensed=licensed,
            locked_back_packs=locked,
            downloads_left=left,
        )

    async def _licensed_links(
        self, conn: AsyncConnection, member_id: int, now: datetime, expires_at: datetime
    ) -> list[AssetLink]:
        rows = await conn.execute(
            sa.select(assets, license_purchases.c.license_kind, license_purchases.c.valid_until)
            .select_from(assets.join(license_purchases, license_purchases.c.asset_id == assets.c.id))
            .where(
                license_purchases.c.member_id == member_id,
                license_purchases.c.paid_at.is_not(None),
                license_purchases.c.revoked_at.is_(None),
            )
            .order_by(license_purchases.c.paid_at.desc())
        )
        return [
            self._link(row, member_id, row.license_kind, expires_at)
            for row in rows
            if row.valid_until is None or row.valid_until > now
        ]


# Built once: the download gateway asks for every batch.
_RELEASED_PACKS = (
    sa.select(packs.c.id, packs.c.month).where(packs.c.deliver_at <= sa.bindparam("now")).order_by(packs.c.month.desc())
)
_DELIVERED_PACKS = sa.select(pack_deliveries.c.member_id, pack_deliveries.c.pack_id).where(
    pack_deliveries.c.member_id.in_(in_list("member_ids"))
)
_PAYMENTS = (
    sa.select(billing_events.c.member_id, billing_events.c.data, subscriptions.c.interval)
    .select_from(billing_events.join(subscriptions, subscriptions.c.id == billing_events.c.subscription_id))
    .where(
        billing_events.c.member_id.in_(in_list("member_ids")),
        billing_events.c.kind == ObservationKind.PAYMENT_SUCCEEDED.value,
    )
)


def _paid_months(conn: sa.Connection, member_ids: Collection[int]) -> dict[int, int]:
    rows = conn.execute(_PAYMENTS, {"member_ids": list(member_ids)})
    months: dict[int, dict[str, int]] = {member_id: {} for member_id in member_ids}
    for member_id, data, interval in rows:
        if (data or {}).get("amount") and data.get("invoice"):
            months[member_id][data["invoice"]] = 12 if interval == "year" else 1
    return {member_id: sum(invoices.values()) for member_id, invoices in months.items()}
