"""The custom-request tables, on the shared metadata. Due times are columns, so "overdue" is a query."""

from __future__ import annotations

import sqlalchemy as sa

from storefront.db import UTCDateTime, metadata

__all__ = ["custom_requests", "request_deliveries", "request_payments"]

custom_requests = sa.Table(
    "custom_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), nullable=False),
    sa.Column("identity", sa.String(128), nullable=False),  # who asked, on which platform
    sa.Column("tier", sa.String(64), nullable=False),  # the tier whose quota the request used
    sa.Column("what", sa.Text, nullable=False),
    sa.Column("format", sa.String(200), nullable=True),
    sa.Column("deadline_wish", sa.String(200), nullable=True),
    sa.Column("reference_asset_id", sa.Integer, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("decline_reason", sa.Text, nullable=True),
    sa.Column("delivery_note", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("handled_by", sa.String(128), nullable=True),  # the creator who last changed the status
    # A one-time paid request over the quota: it never counts against the monthly quota.
    sa.Column("paid_extra", sa.Boolean, nullable=False, server_default=sa.false()),
    # When the creators were alerted that it is past its due time (once per request).
    sa.Column("overdue_flagged_at", UTCDateTime, nullable=True),
    sa.Index("ix_custom_requests_member_id_created_at", "member_id", "created_at"),
    sa.Index("ix_custom_requests_status_due_at", "status", "due_at"),
)

# The Stripe Checkout of a paid extra request; one per request.
request_payments = sa.Table(
    "request_payments",
    metadata,
    sa.Column("request_id", sa.Integer, sa.ForeignKey("custom_requests.id"), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),  # pending | paid | expired | failed | refunded | disputed
    sa.Column("amount_minor", sa.Integer, nullable=False),
    sa.Column("currency", sa.String(8), nullable=False),
    sa.Column("stripe_product_id", sa.String(255), nullable=True),
    sa.Column("stripe_price_id", sa.String(255), nullable=True),
    sa.Column("checkout_session_id", sa.String(255), nullable=True, unique=True),
    sa.Column("checkout_url", sa.Text, nullable=True),
    sa.Column("payment_intent", sa.String(255), nullable=True, index=True),
    sa.Column("pay_before", UTCDateTime, nullable=False),
    sa.Column("paid_at", UTCDateTime, nullable=True),
    sa.Column("closed_at", UTCDateTime, nullable=True),  # refunded or disputed
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# The files a delivery sent: each an asset (outside any pack) with the license granted on it to the member.
request_deliveries = sa.Table(
    "request_deliveries",
    metadata,
    sa.Column("request_id", sa.Integer, sa.ForeignKey("custom_requests.id"), primary_key=True),
    sa.Column("asset_id", sa.Integer, sa.ForeignKey("assets.id"), primary_key=True),
    sa.Column("license_purchase_id", sa.Integer, sa.ForeignKey("license_purchases.id"), nullable=False, unique=True),
)
