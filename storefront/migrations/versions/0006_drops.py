"""drops: drops, holds, sales, waitlist, subscribers, reminders, payment issues

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storefront.db import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drops",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("price_minor", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("supply", sa.Integer, nullable=False),
        sa.Column("opens_at", UTCDateTime, nullable=False),
        sa.Column("early_opens_at", UTCDateTime, nullable=False),
        sa.Column("closes_at", UTCDateTime, nullable=True),
        sa.Column("early_access", sa.JSON, nullable=False),
        sa.Column("per_person_limit", sa.Integer, nullable=False),
        sa.Column("asset", sa.String(500), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("opened_at", UTCDateTime, nullable=True),
        sa.Column("closed_at", UTCDateTime, nullable=True),
        sa.Column("close_reason", sa.String(32), nullable=True),
        sa.Column("stripe_product_id", sa.String(128), nullable=True),
        sa.Column("stripe_price_id", sa.String(128), nullable=True),
        sa.Column("announced_phase", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_drops"),
    )
    op.create_index("ix_drops_status", "drops", ["status"])
    op.create_table(
        "drop_holds",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("drop_id", sa.Integer, nullable=False),
        sa.Column("member_id", sa.Integer, nullable=False),
        sa.Column("identity", sa.String(128), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime, nullable=True),
        sa.Column("end_reason", sa.String(32), nullable=True),
        sa.Column("checkout_session_id", sa.String(128), nullable=True),
        sa.Column("checkout_url", sa.Text, nullable=True),
        sa.Column("checkout_expires_at", UTCDateTime, nullable=True),
        sa.Column("checkout_closed_at", UTCDateTime, nullable=True),
        sa.Column("notified_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_drop_holds"),
        sa.ForeignKeyConstraint(["drop_id"], ["drops.id"], name="fk_drop_holds_drop_id_drops"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_drop_holds_member_id_members"),
    )
    op.create_index("ix_drop_holds_drop_id_status_expires_at", "drop_holds", ["drop_id", "status", "expires_at"])
    op.create_index("ix_drop_holds_drop_id_member_id", "drop_holds", ["drop_id", "member_id"])
    op.create_index("ix_drop_holds_status_expires_at", "drop_holds", ["status", "expires_at"])
    op.create_table(
        "drop_sales",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("drop_id", sa.Integer, nullable=False),
        sa.Column("hold_id", sa.String(40), nullable=False),
        sa.Column("member_id", sa.Integer, nullable=False),
        sa.Column("identity", sa.String(128), nullable=False),
        sa.Column("amount_minor", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("checkout_session_id", sa.String(128), nullable=False),
        sa.Column("payment_intent", sa.String(128), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("takes_unit", sa.Boolean, nullable=False),
        sa.Column("late", sa.Boolean, nullable=False),
        sa.Column("amount_refunded", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("refunded_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_drop_sales"),
        sa.UniqueConstraint("hold_id", name="uq_drop_sales_hold_id"),
        sa.ForeignKeyConstraint(["drop_id"], ["drops.id"], name="fk_drop_sales_drop_id_drops"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_drop_sales_member_id_members"),
    )
    op.create_index("ix_drop_sales_payment_intent", "drop_sales", ["payment_intent"])
    op.create_index("ix_drop_sales_drop_id_member_id", "drop_sales", ["drop_id", "member_id"])
    op.create_table(
        "drop_waitlist",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("drop_id", sa.Integer, nullable=False),
        sa.Column("member_id", sa.Integer, nullable=False),
        sa.Column("identity", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("hold_id", sa.String(40), nullable=True),
        sa.Column("joined_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drop_waitlist"),
        sa.UniqueConstraint("drop_id", "member_id", name="uq_drop_waitlist_drop_id_member_id"),
        sa.ForeignKeyConstraint(["drop_id"], ["drops.id"], name="fk_drop_waitlist_drop_id_drops"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_drop_waitlist_member_id_members"),
    )
    op.create_index("ix_drop_waitlist_drop_id_status", "drop_waitlist", ["drop_id", "status"])
    op.create_table(
        "drop_subscribers",
        sa.Column("drop_id", sa.Integer, nullable=False),
        sa.Column("member_id", sa.Integer, nullable=False),
        sa.Column("identity", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("drop_id", "member_id", name="pk_drop_subscribers"),
        sa.ForeignKeyConstraint(["drop_id"], ["drops.id"], name="fk_drop_subscribers_drop_id_drops"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_drop_subscribers_member_id_members"),
    )
    op.create_table(
        "drop_reminders",
        sa.Column("drop_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("due_at", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("done_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("drop_id", "kind", name="pk_drop_reminders"),
        sa.ForeignKeyConstraint(["drop_id"], ["drops.id"], name="fk_drop_reminders_drop_id_drops"),
    )
    op.create_index("ix_drop_reminders_status_due_at", "drop_reminders", ["status", "due_at"])
    op.create_table(
        "drop_payment_issues",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("drop_id", sa.Integer, nullable=True),
        sa.Column("member_id", sa.Integer, nullable=True),
        sa.Column("identity", sa.String(128), nullable=True),
        sa.Column("hold_id", sa.String(40), nullable=True),
        sa.Column("checkout_session_id", sa.String(128), nullable=True),
        sa.Column("payment_intent", sa.String(128), nullable=True),
        sa.Column("amount_minor", sa.Integer, nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("resolved_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_drop_payment_issues"),
        sa.UniqueConstraint("key", name="uq_drop_payment_issues_key"),
        sa.ForeignKeyConstraint(["drop_id"], ["drops.id"], name="fk_drop_payment_issues_drop_id_drops"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_drop_payment_issues_member_id_members"),
    )


def downgrade() -> None:
    for table in (
        "drop_payment_issues",
        "drop_reminders",
        "drop_subscribers",
        "drop_waitlist",
        "drop_sales",
        "drop_holds",
        "drops",
    ):
        op.drop_table(table)
