"""the live model's switches, and the scheduled quality runs of golden cases

Revision ID: 0009_models
Revises: 0008_chunk_boxes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_models"
down_revision = "0008_chunk_boxes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_switches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("index_name", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("previous_model", sa.String(length=64), nullable=True),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_model_switches_at", "model_switches", ["at"])
    op.create_table(
        "quality_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("collection", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("templates", sa.JSON(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Float(), nullable=True),
        sa.Column("gold_cited", sa.Float(), nullable=True),
        sa.Column("refused", sa.Float(), nullable=True),
        sa.Column("dropped", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_quality_runs_at", "quality_runs", ["at"])
    op.create_index("ix_quality_runs_collection", "quality_runs", ["collection"])


def downgrade() -> None:
    op.drop_table("quality_runs")
    op.drop_table("model_switches")
