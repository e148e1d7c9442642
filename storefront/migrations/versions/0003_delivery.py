"""delivery ledger: one row per (outbox row, target, step) delivered by the bots

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storefront.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("outbox_id", sa.Integer, nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("claimed_at", UTCDateTime, nullable=True),
        sa.Column("completed_at", UTCDateTime, nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_deliveries"),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], name="fk_outbox_deliveries_outbox_id_outbox"),
        sa.UniqueConstraint("outbox_id", "target", "step", name="uq_outbox_deliveries_outbox_id_target_step"),
    )
    op.create_index("ix_outbox_deliveries_status_next_attempt_at", "outbox_deliveries", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("outbox_deliveries")
