"""requests: custom variation requests of brand-tier members

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storefront.db import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "custom_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.Integer, nullable=False),
        sa.Column("identity", sa.String(128), nullable=False),
        sa.Column("tier", sa.String(64), nullable=False),
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
        sa.Column("handled_by", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_custom_requests"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_custom_requests_member_id_members"),
    )
    op.create_index("ix_custom_requests_member_id_created_at", "custom_requests", ["member_id", "created_at"])
    op.create_index("ix_custom_requests_status_due_at", "custom_requests", ["status", "due_at"])


def downgrade() -> None:
    op.drop_table("custom_requests")
