"""The outbox's delivery ledger: one row per (outbox row, target identity, step), so each is done once."""

from __future__ import annotations

import sqlalchemy as sa

from storefront.db._types import UTCDateTime
from storefront.db.tables import metadata

__all__ = ["outbox_deliveries"]

outbox_deliveries = sa.Table(
    "outbox_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("outbox_id", sa.Integer, sa.ForeignKey("outbox.id"), nullable=False),
    # Who it is for: an identity such as telegram:123 or discord:456.
    sa.Column("target", sa.String(128), nullable=False),
    # What to do there: "grant:<resource id>", "revoke:<resource id>" or "message"; steps run in `position` order.
    sa.Column("step", sa.String(64), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("claimed_at", UTCDateTime, nullable=True),
    sa.Column("completed_at", UTCDateTime, nullable=True),
    # What the step produced that a later step needs, e.g. the invite link a grant created.
    sa.Column("detail", sa.Text, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.UniqueConstraint("outbox_id", "target", "step"),
    sa.Index("ix_outbox_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
)
