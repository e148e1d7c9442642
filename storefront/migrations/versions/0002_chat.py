"""chat: link codes, checkout sessions, comps, member merges

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storefront.db import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "link_codes",
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("member_id", sa.Integer, nullable=False),
        sa.Column("issued_to", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("redeemed_at", UTCDateTime, nullable=True),
        sa.Column("redeemed_by", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("code", name="pk_link_codes"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_link_codes_member_id_members"),
    )
    op.create_index("ix_link_codes_member_id", "link_codes", ["member_id"])
    op.create_index("ix_link_codes_issued_to", "link_codes", ["issued_to"])
    op.create_table(
        "checkout_sessions",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("member_id", sa.Integer, nullable=False),
        sa.Column("identity", sa.String(128), nullable=False),
        sa.Column("tier", sa.String(64), nullable=False),
        sa.Column("interval", sa.String(16), nullable=False),
        sa.Column("trial_days", sa.Integer, nullable=False, server_default="0"),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_checkout_sessions"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_checkout_sessions_member_id_members"),
    )
    op.create_index("ix_checkout_sessions_member_id", "checkout_sessions", ["member_id"])
    op.create_table(
        "comps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.Integer, nullable=False),
        sa.Column("tier", sa.String(64), nullable=False),
        sa.Column("starts_at", UTCDateTime, nullable=False),
        sa.Column("ends_at", UTCDateTime, nullable=True),
        sa.Column("granted_by", sa.String(128), nullable=False),
        sa.Column("ended_at", UTCDateTime, nullable=True),
        sa.Column("end_reason", sa.String(32), nullable=True),
        sa.Column("ended_by", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_comps"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_comps_member_id_members"),
    )
    op.create_index("ix_comps_member_id", "comps", ["member_id"])
    op.create_index("ix_comps_ended_at_ends_at", "comps", ["ended_at", "ends_at"])
    op.create_table(
        "member_merges",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("from_member_id", sa.Integer, nullable=False),
        sa.Column("into_member_id", sa.Integer, nullable=False),
        sa.Column("merged_at", UTCDateTime, nullable=False),
        sa.Column("link_code", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_member_merges"),
        sa.ForeignKeyConstraint(["into_member_id"], ["members.id"], name="fk_member_merges_into_member_id_members"),
    )
    op.create_index("ix_member_merges_into_member_id", "member_merges", ["into_member_id"])


def downgrade() -> None:
    for table in ("member_merges", "comps", "checkout_sessions", "link_codes"):
        op.drop_table(table)
