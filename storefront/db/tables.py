"""The foundation tables. Domain packages add theirs to the same `metadata`."""

from __future__ import annotations

import sqlalchemy as sa

from storefront.db._types import UTCDateTime

__all__ = [
    "billing_events",
    "identities",
    "members",
    "metadata",
    "outbox",
    "subscriptions",
    "webhook_events",
]

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

members = sa.Table(
    "members",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # The tier whose access the outbox has been told to grant; compared with the derived one.
    sa.Column("granted_tier", sa.String(64), nullable=True),
    sa.Column("access_seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("trial_used_at", UTCDateTime, nullable=True),
)

identities = sa.Table(
    "identities",
    metadata,
    sa.Column("identity", sa.String(128), primary_key=True),
    sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), nullable=False, index=True),
    sa.Column("customer_id", sa.String(128), nullable=True),
    sa.Column("tier", sa.String(64), nullable=True),
    sa.Column("price_id", sa.String(128), nullable=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("stripe_status", sa.String(32), nullable=True),
    sa.Column("amount_minor", sa.Integer, nullable=True),
    sa.Column("currency", sa.String(8), nullable=True),
    sa.Column("interval", sa.String(16), nullable=True),
    sa.Column("started_at", UTCDateTime, nullable=True),
    sa.Column("current_period_end", UTCDateTime, nullable=True),
    sa.Column("cancel_at_period_end", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("access_until", UTCDateTime, nullable=True),
    sa.Column("grace_until", UTCDateTime, nullable=True),
    sa.Column("trial_end", UTCDateTime, nullable=True),
    sa.Column("ended_at", UTCDateTime, nullable=True),
    sa.Column("end_reason", sa.String(64), nullable=True),
    sa.Column("cancellation_reason", sa.String(64), nullable=True),
    sa.Column("cancellation_feedback", sa.String(64), nullable=True),
    sa.Column("cancellation_comment", sa.Text, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

billing_events = sa.Table(
    "billing_events",
    metadata,
    sa.Column("event_id", sa.String(128), primary_key=True),
    sa.Column("subscription_id", sa.String(128), nullable=False, index=True),
    sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), nullable=False, index=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
)

webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("type", sa.String(128), nullable=False),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=True),
    sa.Column("processed_at", UTCDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Index("ix_webhook_events_status_next_attempt_at", "status", "next_attempt_at"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(255), nullable=False, unique=True),
    sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), nullable=True, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
)
