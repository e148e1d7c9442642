"""Tables of packs, assets, license purchases and the license entitlement recorded with each download."""

from __future__ import annotations

import sqlalchemy as sa

from storefront.db import UTCDateTime, metadata

__all__ = [
    "assets",
    "download_quota_usage",
    "exclusive_locks",
    "license_entitlements",
    "license_purchases",
    "pack_deliveries",
    "packs",
]

packs = sa.Table(
    "packs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("month", sa.String(7), nullable=False, unique=True),  # YYYY-MM
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("deliver_at", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("fanout_started_at", UTCDateTime, nullable=True),
    sa.Column("fanout_completed_at", UTCDateTime, nullable=True),
    # The highest member id the fan-out has handled; a restart resumes after it.
    sa.Column("fanout_cursor", sa.Integer, nullable=False, server_default="0"),
)

assets = sa.Table(
    "assets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pack_id", sa.Integer, sa.ForeignKey("packs.id"), nullable=True, index=True),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("blob_key", sa.String(512), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("content_type", sa.String(128), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("created_on", UTCDateTime, nullable=True),  # when the work was made, as the creator says
    sa.Column("notes", sa.Text, nullable=False, server_default=""),  # release and consent notes
    sa.Column("added_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("pack_id", "filename"),
)

pack_deliveries = sa.Table(
    "pack_deliveries",
    metadata,
    sa.Column("pack_id", sa.Integer, sa.ForeignKey("packs.id"), primary_key=True),
    sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), primary_key=True, index=True),
    sa.Column("queued_at", UTCDateTime, nullable=False),
    sa.Column("reason", sa.String(16), nullable=False),  # fanout | joined
)

license_purchases = sa.Table(
    "license_purchases",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), nullable=False, index=True),
    sa.Column("asset_id", sa.Integer, sa.ForeignKey("assets.id"), nullable=False, index=True),
    sa.Column("license_kind", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("amount_minor", sa.Integer, nullable=True),
    sa.Column("currency", sa.String(8), nullable=True),
    sa.Column("checkout_session_id", sa.String(255), nullable=True, unique=True),
    sa.Column("checkout_url", sa.Text, nullable=True),
    sa.Column("payment_intent", sa.String(255), nullable=True, index=True),
    sa.Column("reserved_until", UTCDateTime, nullable=True),
    sa.Column("paid_at", UTCDateTime, nullable=True),
    sa.Column("valid_until", UTCDateTime, nullable=True),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.Column("revoked_reason", sa.String(32), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# One row per asset: whoever holds it has (or is paying for) the exclusive license until `until`.
exclusive_locks = sa.Table(
    "exclusive_locks",
    metadata,
    sa.Column("asset_id", sa.Integer, sa.ForeignKey("assets.id"), primary_key=True),
    sa.Column("purchase_id", sa.Integer, sa.ForeignKey("license_purchases.id"), nullable=False),
    sa.Column("until", UTCDateTime, nullable=False),
)

license_entitlements = sa.Table(
    "license_entitlements",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # lic_...: the certificate id
    sa.Column("token_id", sa.String(64), nullable=False, unique=True),
    sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), nullable=False, index=True),
    sa.Column("asset_id", sa.Integer, sa.ForeignKey("assets.id"), nullable=False, index=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("license_kind", sa.String(32), nullable=False),
    sa.Column("terms_version", sa.String(64), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # tier | purchase
    sa.Column("source_ref", sa.String(64), nullable=False),
    sa.Column("purchase_id", sa.Integer, sa.ForeignKey("license_purchases.id"), nullable=True, index=True),
    sa.Column("granted_at", UTCDateTime, nullable=False),
    sa.Column("valid_until", UTCDateTime, nullable=True),
    sa.Column("certificate", sa.Text, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.Column("revoked_reason", sa.String(32), nullable=True),
)

download_quota_usage = sa.Table(
    "download_quota_usage",
    metadata,
    sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), primary_key=True),
    sa.Column("period", sa.String(7), primary_key=True),  # YYYY-MM, UTC
    sa.Column("used", sa.Integer, nullable=False, server_default="0"),
)
