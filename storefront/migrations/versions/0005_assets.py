"""assets: packs, assets, pack deliveries, license purchases, exclusive locks, license entitlements, quotas

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storefront.db import UTCDateTime

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "packs",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("deliver_at", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("fanout_started_at", UTCDateTime, nullable=True),
        sa.Column("fanout_completed_at", UTCDateTime, nullable=True),
        sa.Column("fanout_cursor", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_packs"),
        sa.UniqueConstraint("month", name="uq_packs_month"),
    )
    op.create_table(
        "assets",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("pack_id", sa.Integer, nullable=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("blob_key", sa.String(512), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("content_type", sa.String(128), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_on", UTCDateTime, nullable=True),
        sa.Column("notes", sa.Text, nullable=False, server_default=""),
        sa.Column("added_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assets"),
        sa.ForeignKeyConstraint(["pack_id"], ["packs.id"], name="fk_assets_pack_id_packs"),
        sa.UniqueConstraint("pack_id", "filename", name="uq_assets_pack_id_filename"),
    )
    op.create_index("ix_assets_pack_id", "assets", ["pack_id"])
    op.create_index("ix_assets_sha256", "assets", ["sha256"])
    op.create_table(
        "pack_deliveries",
        sa.Column("pack_id", sa.Integer, nullable=False),
        sa.Column("member_id", sa.Integer, nullable=False),
        sa.Column("queued_at", UTCDateTime, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("pack_id", "member_id", name="pk_pack_deliveries"),
        sa.ForeignKeyConstraint(["pack_id"], ["packs.id"], name="fk_pack_deliveries_pack_id_packs"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_pack_deliveries_member_id_members"),
    )
    op.create_index("ix_pack_deliveries_member_id", "pack_deliveries", ["member_id"])
    op.create_table(
        "license_purchases",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("member_id", sa.Integer, nullable=False),
        sa.Column("asset_id", sa.Integer, nullable=False),
        sa.Column("license_kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("amount_minor", sa.Integer, nullable=True),
        sa.Column("currency", sa.String(8), nullable=True),
        sa.Column("checkout_session_id", sa.String(255), nullable=True),
        sa.Column("checkout_url", sa.Text, nullable=True),
        sa.Column("payment_intent", sa.String(255), nullable=True),
        sa.Column("reserved_until", UTCDateTime, nullable=True),
        sa.Column("paid_at", UTCDateTime, nullable=True),
        sa.Column("valid_until", UTCDateTime, nullable=True),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.Column("revoked_reason", sa.String(32), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_license_purchases"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_license_purchases_member_id_members"),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], name="fk_license_purchases_asset_id_assets"),
        sa.UniqueConstraint("checkout_session_id", name="uq_license_purchases_checkout_session_id"),
    )
    op.create_index("ix_license_purchases_member_id", "license_purchases", ["member_id"])
    op.create_index("ix_license_purchases_asset_id", "license_purchases", ["asset_id"])
    op.create_index("ix_license_purchases_payment_intent", "license_purchases", ["payment_intent"])
    op.create_table(
        "exclusive_locks",
        sa.Column("asset_id", sa.Integer, nullable=False),
        sa.Column("purchase_id", sa.Integer, nullable=False),
        sa.Column("until", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("asset_id", name="pk_exclusive_locks"),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], name="fk_exclusive_locks_asset_id_assets"),
        sa.ForeignKeyConstraint(
            ["purchase_id"], ["license_purchases.id"], name="fk_exclusive_locks_purchase_id_license_purchases"
        ),
    )
    op.create_table(
        "license_entitlements",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("token_id", sa.String(64), nullable=False),
        sa.Column("member_id", sa.Integer, nullable=False),
        sa.Column("asset_id", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("license_kind", sa.String(32), nullable=False),
        sa.Column("terms_version", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_ref", sa.String(64), nullable=False),
        sa.Column("purchase_id", sa.Integer, nullable=True),
        sa.Column("granted_at", UTCDateTime, nullable=False),
        sa.Column("valid_until", UTCDateTime, nullable=True),
        sa.Column("certificate", sa.Text, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.Column("revoked_reason", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_license_entitlements"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_license_entitlements_member_id_members"),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], name="fk_license_entitlements_asset_id_assets"),
        sa.ForeignKeyConstraint(
            ["purchase_id"], ["license_purchases.id"], name="fk_license_entitlements_purchase_id_license_purchases"
        ),
        sa.UniqueConstraint("token_id", name="uq_license_entitlements_token_id"),
    )
    op.create_index("ix_license_entitlements_member_id", "license_entitlements", ["member_id"])
    op.create_index("ix_license_entitlements_asset_id", "license_entitlements", ["asset_id"])
    op.create_index("ix_license_entitlements_purchase_id", "license_entitlements", ["purchase_id"])
    op.create_table(
        "download_quota_usage",
        sa.Column("member_id", sa.Integer, nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("used", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("member_id", "period", name="pk_download_quota_usage"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_download_quota_usage_member_id_members"),
    )


def downgrade() -> None:
    for table in (
        "download_quota_usage",
        "license_entitlements",
        "exclusive_locks",
        "license_purchases",
        "pack_deliveries",
        "assets",
        "packs",
    ):
        op.drop_table(table)
