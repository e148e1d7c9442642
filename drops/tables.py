"""The drops tables, on the shared metadata. Every time that matters is a column: timers are only re-armed from it."""

from __future__ import annotations

import sqlalchemy as sa

from storefront.db import UTCDateTime, metadata

__all__ = [
    "drop_announcement_posts",
    "drop_holds",
    "drop_payment_issues",
    "drop_reminders",
    "drop_sales",
    "drop_subscribers",
    "drop_waitlist",
    "drops",
]

drops = sa.Table(
    "drops",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("title", sa.String(100), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("price_minor", sa.Integer, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("supply", sa.Integer, nullable=False),
    sa.Column("opens_at", UTCDateTime, nullable=False),
    # opens_at minus the longest early-access window: when the first members may claim.
    sa.Column("early_opens_at", UTCDateTime, nullable=False),
    sa.Column("closes_at", UTCDateTime, nullable=True),
    sa.Column("early_access", sa.JSON, nullable=False),  # {tier key: minutes before opens_at}
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
    # The phase the bots last announced; they post again when the current phase differs.
    sa.Column("announced_phase", sa.String(16), nullable=True),
    sa.Index("ix_drops_status", "status"),
)

# The messages of each drop's live announcement, one row per channel; replaced when the next phase is posted.
drop_announcement_posts = sa.Table(
    "drop_announcement_posts",
    metadata,
    sa.Column("drop_id", sa.Integer, sa.ForeignKey("drops.id"), primary_key=True),
    sa.Column("target", sa.String(64), primary_key=True),
    sa.Column("message_id", sa.BigInteger, nullable=False),
    sa.Column("shown", sa.Text, nullable=False),
    sa.Column("written_at", UTCDateTime, nullable=False),
)

drop_holds = sa.Table(
    "drop_holds",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("drop_id", sa.Integer, sa.ForeignKey("drops.id"), nullable=False),
    sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), nullable=False),
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
    # When the Checkout session of an ended hold was expired at Stripe (so nobody pays for a gone unit).
    sa.Column("checkout_closed_at", UTCDateTime, nullable=True),
    # When the person was told about a hold made for them (waitlist offers).
    sa.Column("notified_at", UTCDateTime, nullable=True),
    sa.Index("ix_drop_holds_drop_id_status_expires_at", "drop_id", "status", "expires_at"),
    sa.Index("ix_drop_holds_drop_id_member_id", "drop_id", "member_id"),
    sa.Index("ix_drop_holds_status_expires_at", "status", "expires_at"),
)

drop_sales = sa.Table(
    "drop_sales",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("drop_id", sa.Integer, sa.ForeignKey("drops.id"), nullable=False),
    sa.Column("hold_id", sa.String(40), nullable=False, unique=True),
    sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), nullable=False),
    sa.Column("identity", sa.String(128), nullable=False),
    sa.Column("amount_minor", sa.Integer, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("checkout_session_id", sa.String(128), nullable=False),
    sa.Column("payment_intent", sa.String(128), nullable=True, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    # False once a refund put the unit back on sale (restock policy).
    sa.Column("takes_unit", sa.Boolean, nullable=False),
    # Paid after the hold had ended, honoured from spare supply.
    sa.Column("late", sa.Boolean, nullable=False),
    sa.Column("amount_refunded", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("refunded_at", UTCDateTime, nullable=True),
    sa.Index("ix_drop_sales_drop_id_member_id", "drop_id", "member_id"),
)

drop_waitlist = sa.Table(
    "drop_waitlist",
    metadata,
    # The id is the place in line: joining again goes to the back with a new row.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("drop_id", sa.Integer, sa.ForeignKey("drops.id"), nullable=False),
    sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), nullable=False),
    sa.Column("identity", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("hold_id", sa.String(40), nullable=True),
    sa.Column("joined_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("drop_id", "member_id"),
    sa.Index("ix_drop_waitlist_drop_id_status", "drop_id", "status"),
)

drop_subscribers = sa.Table(
    "drop_subscribers",
    metadata,
    sa.Column("drop_id", sa.Integer, sa.ForeignKey("drops.id"), primary_key=True),
    sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), primary_key=True),
    sa.Column("identity", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

drop_reminders = sa.Table(
    "drop_reminders",
    metadata,
    sa.Column("drop_id", sa.Integer, sa.ForeignKey("drops.id"), primary_key=True),
    sa.Column("kind", sa.String(48), primary_key=True),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("done_at", UTCDateTime, nullable=True),
    sa.Index("ix_drop_reminders_status_due_at", "status", "due_at"),
)

drop_payment_issues = sa.Table(
    "drop_payment_issues",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(200), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("drop_id", sa.Integer, sa.ForeignKey("drops.id"), nullable=True),
    sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id"), nullable=True),
    sa.Column("identity", sa.String(128), nullable=True),
    sa.Column("hold_id", sa.String(40), nullable=True),
    sa.Column("checkout_session_id", sa.String(128), nullable=True),
    sa.Column("payment_intent", sa.String(128), nullable=True),
    sa.Column("amount_minor", sa.Integer, nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
)
