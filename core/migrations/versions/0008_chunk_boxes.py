"""where each chunk's words sit on its pages, for highlighting citations

Revision ID: 0008_chunk_boxes
Revises: 0007_teams, 0007 (it also joins the two 0007 branches into one head)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_chunk_boxes"
down_revision = ("0007_teams", "0007")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chunk_boxes",
        sa.Column("chunk_id", sa.String(length=36), nullable=False),
        sa.Column("boxes", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["chunk_id"], ["chunks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("chunk_id"),
    )


def downgrade() -> None:
    op.drop_table("chunk_boxes")
