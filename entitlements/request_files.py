"""Files of custom requests: the member's reference upload and the creator's delivered files.

Files go into the blob store first (content-addressed, so storing again is harmless), then become `assets`
rows outside any pack, inside the caller's transaction. Each delivered file is licensed to the requesting
member under the commercial license: a `license_purchases` row with status `granted`, amount 0, paid now,
linked to the request in `request_deliveries`, so the download gateway lets that member (and nobody else)
download it and records the license entitlement with its signed certificate. A refund or dispute of a paid
request revokes those licenses.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from entitlements.asset_tables import assets, license_entitlements, license_purchases
from entitlements.downloads import DownloadLinks
from entitlements.license_purchases import PurchaseStatus
from entitlements.licenses import LicenseCatalog
from entitlements.packs import asset_row
from entitlements.request_tables import request_deliveries
from storefront.blobs import BlobMetadata, BlobStore, StoredBlob, safe_filename
from storefront.errors import StorefrontError

__all__ = [
    "DELIVERY_LICENSE",
    "GRANTED",
    "MAX_DELIVERY_FILES",
    "DeliveredFile",
    "RequestFile",
    "RequestFiles",
    "TooManyFiles",
    "revoke_delivery_licenses",
]

DELIVERY_LICENSE = "commercial"
GRANTED = PurchaseStatus.GRANTED  # license_purchases.status of a license that came with a delivered request
MAX_DELIVERY_FILES = 10  # one download button each; chat messages carry about this many


class TooManyFiles(StorefrontError):
    def __init__(self, count: int) -> None:
        self.count = count
        super().__init__(f"A delivery takes at most {MAX_DELIVERY_FILES} files ({count} given); zip the rest.")


@dataclass(frozen=True)
class RequestFile:
    """One file: from disk (the CLI) or bytes (a chat attachment)."""

    name: str
    source: Path | bytes
    content_type: str | None = None


@dataclass(frozen=True)
class DeliveredFile:
    asset_id: int
    filename: str
    sha256: str
    size: int
    license_purchase_id: int
    url: str


class RequestFiles:
    """Stores request files and grants the delivered ones; `app.blobs`, the download links and license terms."""

    def __init__(self, *, blobs: BlobStore, links: DownloadLinks, licenses: LicenseCatalog) -> None:
        self._blobs = blobs
        self._links = links
        self._licenses = licenses

    async def store(self, files: Sequence[RequestFile], *, title_prefix: str = "") -> list[StoredBlob]:
        """Put every file in the blob store; raises (BlobStoreUnavailable, ...) before anything is recorded."""
        stored = []
        for file in files:
            filename = safe_filename(file.name)
            content_type = file.content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
            title = f"{title_prefix}{Path(filename).stem}".strip()[:200] or filename
            metadata = BlobMetadata(title=title, tags=("custom-request",))
            stored.append(
                await self._blobs.put(file.source, filename=filename, content_type=content_type, metadata=metadata)
            )
        return stored

    @staticmethod
    async def add_asset(conn: AsyncConnection, blob: StoredBlob, now: datetime, notes: str) -> int:
        """An asset outside any pack, for a stored blob."""
        row = asset_row(blob, pack_id=None, filename=blob.key.rpartition("/")[2], now=now, created_on=now, notes=notes)
        return await conn.scalar(sa.insert(assets).values(row).returning(assets.c.id))

    async def grant(
        self, conn: AsyncConnection, *, request_id: int, member_id: int, stored: Sequence[StoredBlob], now: datetime
    ) -> list[DeliveredFile]:
        """Record the delivered files as assets licensed to the member; one fresh download link each."""
        terms = self._licenses.license(DELIVERY_LICENSE)
        expires_at = now + timedelta(days=self._licenses.packs.link_days)
        delivered = []
        for blob in stored:
            asset_id = await self.add_asset(conn, blob, now, f"Delivered for custom request #{request_id}.")
            purchase_id = await conn.scalar(
                sa.insert(license_purchases)
                .values(
                    member_id=member_id,
                    asset_id=asset_id,
                    license_kind=DELIVERY_LICENSE,
                    status=GRANTED,
                    amount_minor=0,
                    currency=terms.currency,
                    paid_at=now,
                    created_at=now,
                    updated_at=now,
                )
                .returning(license_purchases.c.id)
            )
            await conn.execute(
                sa.insert(request_deliveries).values(
                    request_id=request_id, asset_id=asset_id, license_purchase_id=purchase_id
                )
            )
            url = self._links.url(
                member_id=member_id, asset_id=asset_id, license_kind=DELIVERY_LICENSE, expires_at=expires_at
            )
            filename = blob.key.rpartition("/")[2]
            delivered.append(DeliveredFile(asset_id, filename, blob.sha256, blob.size, purchase_id, url))
        return delivered


async def revoke_delivery_licenses(conn: AsyncConnection, request_id: int, reason: str, now: datetime) -> int:
    """Revoke the licenses a request's delivery granted (and the entitlements recorded under them); how many."""
    purchase_ids = list(
        await conn.scalars(
            sa.select(request_deliveries.c.license_purchase_id).where(request_deliveries.c.request_id == request_id)
        )
    )
    if not purchase_ids:
        return 0
    revoked = await conn.execute(
        sa.update(license_purchases)
        .where(license_purchases.c.id.in_(purchase_ids), license_purchases.c.revoked_at.is_(None))
        .values(status=reason, revoked_at=now, revoked_reason=reason, updated_at=now)
    )
    await conn.execute(
        sa.update(license_entitlements)
        .where(license_entitlements.c.purchase_id.in_(purchase_ids), license_entitlements.c.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
    return revoked.rowcount
