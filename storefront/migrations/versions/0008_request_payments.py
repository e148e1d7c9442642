"""request payments: paid extra requests over the quota, overdue flags, delivered files with their licenses

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storefront.db import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("custom_requests", sa.Column("paid_extra", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("custom_requests", sa.Column("overdue_flagged_at", UTCDateTime, nullable=True))
    op.create_table(
        "request_payments",
        sa.Column("request_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("amount_minor", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("stripe_product_id", sa.String(255), nullable=True),
        sa.Column("stripe_price_id", sa.String(255), nullable=True),
        sa.Column("checkout_session_id", sa.String(255), nullable=True),
        sa.Column("checkout_url", sa.Text, nullable=True),
        sa.Column("payment_intent", sa.String(255), nullable=True),
        sa.Column("pay_before", UTCDateTime, nullable=False),
        sa.Column("paid_at", UTCDateTime, nullable=True),
        sa.Column("closed_at", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("request_id", name="pk_request_payments"),
        sa.ForeignKeyConstraint(
            ["request_id"], ["custom_requests.id"], name="fk_request_payments_request_id_custom_requests"
        ),
        sa.UniqueConstraint("checkout_session_id", name="uq_request_payments_checkout_session_id"),
    )
    op.create_index("ix_request_payments_payment_intent", "request_payments", ["payment_intent"])
    op.create_table(
        "request_deliveries",
        sa.Column("request_id", sa.Integer, nullable=False),
        sa.Column("asset_id", sa.Integer, nullable=False),
        sa.Column("license_purchase_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("request_id", "asset_id", name="pk_request_deliveries"),
        sa.ForeignKeyConstraint(
            ["request_id"], ["custom_requests.id"], name="fk_request_deliveries_request_id_custom_requests"
        ),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], name="fk_request_deliveries_asset_id_assets"),
        sa.ForeignKeyConstraint(
            ["license_purchase_id"],
            ["license_purchases.id"],
            name="fk_request_deliveries_license_purchase_id_license_purchases",
        ),
        sa.UniqueConstraint("license_purchase_id", name="uq_request_deliveries_license_purchase_id"),
    )


def downgrade() -> None:
    op.drop_table("request_deliveries")
    op.drop_table("request_payments")
    with op.batch_alter_table("custom_requests") as batch:
        batch.drop_column("overdue_flagged_at")
        batch.drop_column("paid_extra")
