"""Download links and the gateway's rules: signed tokens, who may download what, monthly quotas, records.

A token names member, asset, license kind, expiry and a nonce, signed with HMAC-SHA256. Redeeming it checks
the signature, the expiry, that a purchase or the membership still grants the asset under that license,
and the tier's monthly quota; then, in the same transaction, it records the license entitlement with its
signed certificate. Anything refused records nothing. The same link used twice is one download.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

import sqlalchemy as sa

from entitlements.asset_tables import assets, download_quota_usage, license_entitlements, license_purchases
from entitlements.certificates import CERTIFICATE_FORMAT, LicenseSigner, write_secret_file_once
from entitlements.licenses import KIND_RANK, LicenseCatalog
from storefront.catalog import Catalog
from storefront.clock import Clock
from storefront.db import BatchWriter, Database, Outcome, in_list, insert_ignoring_conflicts
from storefront.db.tables import members, subscriptions
from storefront.errors import ConfigError, StorefrontError
from storefront.months import month_of, next_month_start

__all__ = [
    "AssetGone",
    "BadToken",
    "Download",
    "DownloadGateway",
    "DownloadLinks",
    "DownloadRefused",
    "DownloadToken",
    "LicenseRevoked",
    "MembershipEnded",
    "NotEntitled",
    "PackAccess",
    "QuotaExhausted",
    "TokenExpired",
    "TokenSigner",
    "load_or_create_token_key",
]

log = logging.getLogger(__name__)

_VERSION = "v1"
_TOKEN = re.compile(
    r"^v1\.(\d{1,12})\.(\d{1,12})\.([a-z_]{1,32})\.(\d{1,12})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$"
)


class DownloadRefused(StorefrontError):
    """The gateway said no; nothing was recorded."""


class BadToken(DownloadRefused):
    def __init__(self) -> None:
        super().__init__("This download link is not valid. Send /packs to the bot for fresh links.")


class TokenExpired(DownloadRefused):
    def __init__(self, expired_at: datetime) -> None:
        self.expired_at = expired_at
        super().__init__(
            f"This download link expired on {expired_at:%d %b %Y %H:%M UTC}. Send /packs to the bot for fresh links."
        )


class AssetGone(DownloadRefused):
    def __init__(self, asset_id: int) -> None:
        self.asset_id = asset_id
        super().__init__("This file is no longer available.")


class MembershipEnded(DownloadRefused):
    def __init__(self) -> None:
        super().__init__(
            "Your membership is not active, so this link no longer works. Subscribe again with /subscribe in "
            "Telegram or Discord, then send /packs for fresh links."
        )


class NotEntitled(DownloadRefused):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class LicenseRevoked(DownloadRefused):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"Your license for this file was revoked ({reason}), so it cannot be downloaded under it.")


class QuotaExhausted(DownloadRefused):
    def __init__(self, limit: int, resets_at: datetime) -> None:
        self.limit = limit
        self.resets_at = resets_at
        super().__init__(
            f"You have used all {limit} downloads of this month. Your quota resets on {resets_at:%d %b %Y %H:%M UTC}."
        )


# Tokens -----------------------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class DownloadToken:
    member_id: int
    asset_id: int
    license_kind: str
    expires_at: datetime
    nonce: str  # also the idempotency key of the download


def load_or_create_token_key(path: Path) -> bytes:
    """The HMAC key kept in `path`, generated on first run (used when DOWNLOAD_TOKEN_KEY is not set)."""
    return write_secret_file_once(path, secrets.token_hex(32).encode())


class TokenSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ConfigError("DOWNLOAD_TOKEN_KEY must be at least 32 characters")
        self._key = key

    def __repr__(self) -> str:
        return "TokenSigner(key=***)"

    def _signature(self, message: str) -> str:
        return _b64(hmac.new(self._key, message.encode(), hashlib.sha256).digest())

    def issue(self, *, member_id: int, asset_id: int, license_kind: str, expires_at: datetime) -> str:
        nonce = _b64(secrets.token_bytes(12))
        message = f"{_VERSION}.{member_id}.{asset_id}.{license_kind}.{int(expires_at.timestamp())}.{nonce}"
        return f"{message}.{self._signature(message)}"

    def read(self, text: str, now: datetime) -> DownloadToken:
        """The token's contents; BadToken if it was not signed by us or was changed, TokenExpired if too late."""
        match = _TOKEN.match(text)
        if match is None:
            raise BadToken()
        message, _, signature = text.rpartition(".")
        if not hmac.compare_digest(self._signature(message), signature):
            raise BadToken()
        member, asset, kind, expires, nonce = match.group(1, 2, 3, 4, 5)
        expires_at = datetime.fromtimestamp(int(expires), tz=UTC)
        if now >= expires_at:
            raise TokenExpired(expires_at)
        return DownloadToken(int(member), int(asset), kind, expires_at, nonce)


class DownloadLinks:
    """Builds the `/dl/<token>` URLs that go into messages."""

    def __init__(self, tokens: TokenSigner, public_base_url: str) -> None:
        self._tokens = tokens
        self._base = public_base_url.rstrip("/")

    def url(self, *, member_id: int, asset_id: int, license_kind: str, expires_at: datetime) -> str:
        token = self._tokens.issue(
            member_id=member_id, asset_id=asset_id, license_kind=license_kind, expires_at=expires_at
        )
        return f"{self._base}/dl/{token}"


# Quotas -----------------------------------------------------------------------------------------------------


# Built once (as insert_ignoring_conflicts is): a batch binds only its values; building the expressions again
# took a quarter of a batch's time.
_QUOTA_ROWS = (
    sa.select(download_quota_usage.c.member_id, download_quota_usage.c.used)
    .where(
        download_quota_usage.c.member_id.in_(in_list("member_ids")),
        download_quota_usage.c.period == sa.bindparam("period"),
    )
    .order_by(download_quota_usage.c.member_id)
    .with_for_update()
)
_SAVE_QUOTA = (
    sa.update(download_quota_usage)
    .where(
        download_quota_usage.c.member_id == sa.bindparam("member"),
        download_quota_usage.c.period == sa.bindparam("month"),
    )
    .values(used=sa.bindparam("count"))
)
_ASSETS = sa.select(assets).where(assets.c.id.in_(in_list("asset_ids")))
_TIERS = sa.select(members.c.id, members.c.granted_tier).where(members.c.id.in_(in_list("member_ids")))
_PAID_PURCHASES = (
    sa.select(license_purchases)
    .where(
        license_purchases.c.member_id.in_(in_list("member_ids")),
        license_purchases.c.asset_id.in_(in_list("asset_ids")),
        license_purchases.c.paid_at.is_not(None),
    )
    .order_by(license_purchases.c.paid_at.desc())
)
_SUBSCRIBED = (
    sa.select(subscriptions.c.member_id).where(subscriptions.c.member_id.in_(in_list("member_ids"))).distinct()
)
_RECORDED = sa.select(license_entitlements).where(license_entitlements.c.token_id.in_(in_list("nonces")))
_RECORD = sa.insert(license_entitlements)


def _lock_quota_rows(conn: sa.Connection, member_ids: list[int], period: str) -> dict[int, int]:
    """This month's downloads so far per member, with the rows locked until commit (PostgreSQL; SQLite has one
    writer anyway): a member's downloads decided by two processes at once are counted one after the other."""
    conn.execute(
        insert_ignoring_conflicts(conn, download_quota_usage, ["member_id", "period"]),
        [{"member_id": member_id, "period": period, "used": 0} for member_id in member_ids],
    )
    rows = conn.execute(_QUOTA_ROWS, {"member_ids": member_ids, "period": period})
    return {member_id: used for member_id, used in rows}


def _save_quota_use(conn: sa.Connection, used: dict[int, int], period: str) -> None:
    if used:
        conn.execute(
            _SAVE_QUOTA,
            [{"member": member_id, "month": period, "count": count} for member_id, count in used.items()],
        )


# The gateway ------------------------------------------------------------------------------------------------


class PackAccess(Protocol):
    def unlocked_packs(
        self, conn: sa.Connection, member_ids: Collection[int], now: datetime
    ) -> dict[int, dict[int, str]]:
        """Per member, the packs their membership has unlocked (current, delivered or by tenure)."""
        ...


@dataclass(frozen=True)
class _Grant:
    source: str  # tier | purchase
    ref: str
    purchase_id: int | None = None
    valid_until: datetime | None = None
    quota: int | None = None


@dataclass(frozen=True)
class Download:
    license_id: str
    asset_id: int
    filename: str
    content_type: str
    blob_key: str
    sha256: str
    size: int
    license_kind: str
    source: str
    certificate: bytes
    first_use: bool  # False when the same link was used again (no second record, no second quota count)
    downloads_left: int | None  # of this month's quota; None for purchased licenses


@dataclass(frozen=True)
class _Facts:
    """What a batch of downloads needs from the database, read with a few statements for the whole batch."""

    assets: dict[int, Any]
    tiers: dict[int, str | None]
    purchases: dict[tuple[int, int, str], list[Any]]  # (member, asset, kind) -> paid purchases, newest first
    unlocked: dict[int, dict[int, str]]
    had_membership: set[int]
    recorded: dict[str, Any]  # token nonce -> the license entitlement already recorded for it


class DownloadGateway:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        tokens: TokenSigner,
        catalog: Catalog,
        licenses: LicenseCatalog,
        signer: LicenseSigner,
        pack_access: PackAccess,
        public_base_url: str,
        new_license_id: Callable[[], str] = lambda: f"lic_{secrets.token_hex(10)}",
    ) -> None:
        self._db = db
        self._writer: BatchWriter[DownloadToken] = BatchWriter(db, self._decide_in_transaction)
        self._clock = clock
        self._tokens = tokens
        self._catalog = catalog
        self._licenses = licenses
        self._signer = signer
        self._pack_access = pack_access
        self._store = public_base_url.rstrip("/")
        self._new_license_id = new_license_id

    async def close(self) -> None:
        await self._writer.close()

    async def redeem(self, text: str) -> Download:
        """Check everything, then record the license entitlement and its certificate; raises DownloadRefused.

        Downloads arriving together are decided and recorded together: one transaction, a few statements.
        """
        token = self._tokens.read(text, self._clock.now())
        if token.license_kind not in self._licenses.licenses:
            raise BadToken()
        return await self._writer.submit(token)

    async def _decide_in_transaction(self, tokens: list[DownloadToken]) -> list[Outcome]:
        now = self._clock.now()
        # Off the event loop in one trip: the batch's statements, the decisions and their signatures.
        return await self._db.write_in_one_trip(lambda conn: self._decide_batch(conn, tokens, now), urgent=True)

    def _decide_batch(self, conn: sa.Connection, tokens: list[DownloadToken], now: datetime) -> list[Outcome]:
        period = month_of(now)  # quotas count per calendar month, UTC
        used = _lock_quota_rows(conn, sorted({token.member_id for token in tokens}), period)
        facts = self._facts(conn, tokens, now)
        counted: dict[int, int] = {}
        new_records: list[dict[str, Any]] = []
        outcomes: list[Outcome] = []
        for token in tokens:
            try:
                outcomes.append((self._decide(token, facts, used, counted, new_records, now), None))
            except DownloadRefused as refusal:
                outcomes.append((None, refusal))
        _save_quota_use(conn, counted, period)
        if new_records:
            conn.execute(_RECORD, new_records)
        return outcomes

    def _facts(self, conn: sa.Connection, tokens: list[DownloadToken], now: datetime) -> _Facts:
        member_ids = sorted({token.member_id for token in tokens})
        asset_ids = sorted({token.asset_id for token in tokens})
        found_assets = {row.id: row for row in conn.execute(_ASSETS, {"asset_ids": asset_ids})}
        tiers = {member_id: granted for member_id, granted in conn.execute(_TIERS, {"member_ids": member_ids})}
        purchases: dict[tuple[int, int, str], list[Any]] = {}
        for row in conn.execute(_PAID_PURCHASES, {"member_ids": member_ids, "asset_ids": asset_ids}):
            purchases.setdefault((row.member_id, row.asset_id, row.license_kind), []).append(row)
        with_tier = [member_id for member_id in member_ids if tiers.get(member_id)]
        without_tier = [member_id for member_id in member_ids if not tiers.get(member_id)]
        had_membership = set(conn.scalars(_SUBSCRIBED, {"member_ids": without_tier})) if without_tier else set()
        nonces = sorted({token.nonce for token in tokens})
        recorded = {row.token_id: row for row in conn.execute(_RECORDED, {"nonces": nonces})}
        unlocked = self._pack_access.unlocked_packs(conn, with_tier, now) if with_tier else {}
        return _Facts(found_assets, tiers, purchases, unlocked, had_membership, recorded)

    def _decide(
        self,
        token: DownloadToken,
        facts: _Facts,
        used: dict[int, int],
        counted: dict[int, int],
        new_records: list[dict[str, Any]],
        now: datetime,
    ) -> Download:
        """One download of the batch: refused (raises), a repeat of a recorded one, or a new record to insert."""
        asset = facts.assets.get(token.asset_id)
        if asset is None:
            raise AssetGone(token.asset_id)
        grant = self._grant(token, asset.pack_id, facts, now)
        earlier = facts.recorded.get(token.nonce)
        if earlier is not None:
            return _download(asset, earlier.id, earlier.certificate, token, grant, False, None)
        left = None
        if grant.quota is not None:
            so_far = used.get(token.member_id, 0)
            if so_far >= grant.quota:
                raise QuotaExhausted(grant.quota, next_month_start(now))
            used[token.member_id] = counted[token.member_id] = so_far + 1
            left = grant.quota - so_far - 1
        license_id = self._new_license_id()
        certificate = self._signer.sign(self._certificate(license_id, token, asset, grant, now)).decode()
        record = {
            "id": license_id,
            "token_id": token.nonce,
            "member_id": token.member_id,
            "asset_id": asset.id,
            "sha256": asset.sha256,
            "license_kind": token.license_kind,
            "terms_version": self._licenses.license(token.license_kind).terms_sha256,
            "source": grant.source,
            "source_ref": grant.ref,
            "purchase_id": grant.purchase_id,
            "granted_at": now,
            "valid_until": grant.valid_until,
            "certificate": certificate,
        }
        new_records.append(record)
        facts.recorded[token.nonce] = SimpleNamespace(**record)  # the same link twice in one batch is one download
        return _download(asset, license_id, certificate, token, grant, True, left)

    def _grant(self, token: DownloadToken, pack_id: int | None, facts: _Facts, now: datetime) -> _Grant:
        purchases = facts.purchases.get((token.member_id, token.asset_id, token.license_kind), [])
        for row in purchases:
            if row.revoked_at is None and (row.valid_until is None or row.valid_until > now):
                return _Grant("purchase", str(row.id), purchase_id=row.id, valid_until=row.valid_until)
        try:
            return self._tier_grant(token, pack_id, facts)
        except DownloadRefused:
            revoked = next((row for row in purchases if row.revoked_at is not None), None)
            if revoked is not None:
                raise LicenseRevoked(revoked.revoked_reason or "revoked") from None
            raise

    def _tier_grant(self, token: DownloadToken, pack_id: int | None, facts: _Facts) -> _Grant:
        terms = self._licenses.license(token.license_kind)
        if token.license_kind == "exclusive":
            raise NotEntitled("The exclusive license for this file is not yours (or its period has ended).")
        granted = facts.tiers.get(token.member_id)
        if granted is None:
            if token.member_id in facts.had_membership:
                raise MembershipEnded()
            raise NotEntitled("This file comes with a membership: subscribe with /subscribe, then send /packs.")
        tier = self._catalog.tiers.get(granted)
        if tier is None or tier.grants.monthly_downloads == 0:
            raise NotEntitled("Your membership does not include downloads; /tiers shows the ones that do.")
        if token.license_kind not in tier.grants.license_kinds:
            raise NotEntitled(
                f"Your {tier.name} membership does not include the {terms.name} license. "
                "Send /packs for links under your license, or buy this one with /license buy."
            )
        if pack_id is None or pack_id not in facts.unlocked.get(token.member_id, {}):
            raise NotEntitled("This file is in a pack your membership has not unlocked (yet).")
        return _Grant("tier", tier.key, quota=tier.grants.monthly_downloads)

    def _certificate(
        self, license_id: str, token: DownloadToken, asset: Any, grant: _Grant, now: datetime
    ) -> dict[str, Any]:
        terms = self._licenses.license(token.license_kind)
        return {
            "format": CERTIFICATE_FORMAT,
            "id": license_id,
            "issued_at": now.astimezone(UTC).isoformat(),
            "issuer": {"store": self._store, "key_id": self._signer.key_id},
            "licensee": {"member_id": token.member_id},
            "asset": {
                "id": asset.id,
                "title": asset.title,
                "filename": asset.filename,
                "sha256": asset.sha256,
                "size": asset.size,
                "content_type": asset.content_type,
            },
            "license": {
                "kind": token.license_kind,
                "name": terms.name,
                "rank": KIND_RANK[token.license_kind],
                "terms_sha256": terms.terms_sha256,
            },
            "source": {"type": grant.source, "ref": grant.ref},
            "valid_until": grant.valid_until.astimezone(UTC).isoformat() if grant.valid_until else None,
        }


def _download(
    asset: Any, license_id: str, certificate: str, token: DownloadToken, grant: _Grant, first: bool, left: int | None
) -> Download:
    return Download(
        license_id=license_id,
        asset_id=asset.id,
        filename=asset.filename,
        content_type=asset.content_type,
        blob_key=asset.blob_key,
        sha256=asset.sha256,
        size=asset.size,
        license_kind=token.license_kind,
        source=grant.source,
        certificate=certificate.encode(),
        first_use=first,
        downloads_left=left,
    )
