"""drop announcement posts: where each drop's live announcement was posted, so a restart keeps editing it

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storefront.db import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drop_announcement_posts",
        sa.Column("drop_id", sa.Integer, nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("message_id", sa.BigInteger, nullable=False),
        sa.Column("shown", sa.Text, nullable=False),
        sa.Column("written_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("drop_id", "target", name="pk_drop_announcement_posts"),
        sa.ForeignKeyConstraint(["drop_id"], ["drops.id"], name="fk_drop_announcement_posts_drop_id_drops"),
    )


def downgrade() -> None:
    op.drop_table("drop_announcement_posts")
