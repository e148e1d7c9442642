"""The custom-request table, on the shared metadata. Due times are columns, so "overdue" is a query."""

from __future__ import annotations

import sqlalchemy as sa

from storefront.db import UTCDateTime, metadata

__all__ = ["custom_requests"]

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
    sa.Index("ix_custom_requests_member_id_created_at", "member_id", "created_at"),
    sa.Index("ix_custom_requests_status_due_at", "status", "due_at"),
)
