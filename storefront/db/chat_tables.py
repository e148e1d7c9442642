"""Tables of the chat side: one-time link codes, Checkout sessions we created, manual comps, member merges."""

from __future__ import annotations

import sqlalchemy as sa

from storefront.db._types import UTCDateTime
from storefront.db.tables import metadata

__all__ = ["checkout_sessions", "comps", "link_codes", "member_merges"]

link_codes = sa.Table(
    "link_codes",
    metadata,
    sa.Column("code", sa.String(16), primary_key=True),
    sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), nullable=False, index=True),
    sa.Column("issued_to", sa.String(128), nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("redeemed_at", UTCDateTime, nullable=True),
    sa.Column("redeemed_by", sa.String(128), nullable=True),
)

checkout_sessions = sa.Table(
    "checkout_sessions",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), nullable=False, index=True),
    sa.Column("identity", sa.String(128), nullable=False),
    sa.Column("tier", sa.String(64), nullable=False),
    sa.Column("interval", sa.String(16), nullable=False),
    sa.Column("trial_days", sa.Integer, nullable=False, server_default="0"),
    sa.Column("url", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=True),
)

# A complimentary tier given by an admin. It is not money state: subscriptions and billing events are untouched,
# and MembershipService grants the better of the paid tier and the comp.
comps = sa.Table(
    "comps",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), nullable=False, index=True),
    sa.Column("tier", sa.String(64), nullable=False),
    sa.Column("starts_at", UTCDateTime, nullable=False),
    sa.Column("ends_at", UTCDateTime, nullable=True),
    sa.Column("granted_by", sa.String(128), nullable=False),
    sa.Column("ended_at", UTCDateTime, nullable=True),
    sa.Column("end_reason", sa.String(32), nullable=True),
    sa.Column("ended_by", sa.String(128), nullable=True),
    sa.Index("ix_comps_ended_at_ends_at", "ended_at", "ends_at"),
)

member_merges = sa.Table(
    "member_merges",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("from_member_id", sa.Integer, nullable=False),
    sa.Column("into_member_id", sa.Integer, sa.ForeignKey("members.id"), nullable=False, index=True),
    sa.Column("merged_at", UTCDateTime, nullable=False),
    sa.Column("link_code", sa.String(16), nullable=True),
)
