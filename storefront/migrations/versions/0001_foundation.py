"""foundation: members, identities, subscriptions, billing events, webhook inbox, outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storefront.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "members",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("granted_tier", sa.String(64), nullable=True),
        sa.Column("access_seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("trial_used_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_members"),
    )
    op.create_table(
        "identities",
        sa.Column("identity", sa.String(128), nullable=False),
        sa.Column("member_id", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("identity", name="pk_identities"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_identities_member_id_members"),
    )
    op.create_index("ix_identities_member_id", "identities", ["member_id"])
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("member_id", sa.Integer, nullable=False),
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
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_subscriptions_member_id_members"),
    )
    op.create_index("ix_subscriptions_member_id", "subscriptions", ["member_id"])
    op.create_table(
        "billing_events",
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("subscription_id", sa.String(128), nullable=False),
        sa.Column("member_id", sa.Integer, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_billing_events"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_billing_events_member_id_members"),
    )
    op.create_index("ix_billing_events_subscription_id", "billing_events", ["subscription_id"])
    op.create_index("ix_billing_events_member_id", "billing_events", ["member_id"])
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime, nullable=True),
        sa.Column("processed_at", UTCDateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_events"),
    )
    op.create_index("ix_webhook_events_status_next_attempt_at", "webhook_events", ["status", "next_attempt_at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("member_id", sa.Integer, nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("delivered_at", UTCDateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("key", name="uq_outbox_key"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_outbox_member_id_members"),
    )
    op.create_index("ix_outbox_member_id", "outbox", ["member_id"])
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])


def downgrade() -> None:
    for table in ("outbox", "webhook_events", "billing_events", "subscriptions", "identities", "members"):
        op.drop_table(table)
