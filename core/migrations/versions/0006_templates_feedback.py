"""question templates, answers, feedback and review, human overrides, golden cases

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NOW = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "templates",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.Column("updated_at", NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", "version"),
    )
    op.create_table(
        "answers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user", sa.String(length=128), nullable=False),
        sa.Column("team", sa.String(length=512), nullable=False),
        sa.Column("collections", sa.JSON(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("scope_key", sa.String(length=64), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=True),
        sa.Column("template_version", sa.Integer(), nullable=True),
        sa.Column("values", sa.JSON(), nullable=True),
        sa.Column("refused", sa.Boolean(), nullable=False),
        sa.Column("escalate", sa.Boolean(), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("cached", sa.Boolean(), nullable=False),
        sa.Column("override_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", NOW, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_answers_user"), ["user"], unique=False)
        batch_op.create_index(batch_op.f("ix_answers_team"), ["team"], unique=False)
        batch_op.create_index(batch_op.f("ix_answers_scope_key"), ["scope_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_answers_template_id"), ["template_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_answers_created_at"), ["created_at"], unique=False)
    op.create_table(
        "feedback",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("answer_id", sa.String(length=32), nullable=False),
        sa.Column("user", sa.String(length=128), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("correct_answer", sa.Text(), nullable=True),
        sa.Column("correct_sources", sa.JSON(), nullable=True),
        sa.Column("reviewer", sa.String(length=128), nullable=True),
        sa.Column("reviewed_at", NOW, nullable=True),
        sa.Column("created_at", NOW, nullable=False),
        sa.ForeignKeyConstraint(["answer_id"], ["answers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_answer_id"), ["answer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_feedback_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_feedback_created_at"), ["created_at"], unique=False)
    op.create_table(
        "answer_overrides",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("scope_key", sa.String(length=64), nullable=False),
        sa.Column("feedback_id", sa.String(length=32), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reviewer", sa.String(length=128), nullable=False),
        sa.Column("approved_at", NOW, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["feedback_id"], ["feedback.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("answer_overrides", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_answer_overrides_scope_key"), ["scope_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_answer_overrides_feedback_id"), ["feedback_id"], unique=False)
    op.create_table(
        "golden_cases",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("golden_set", sa.String(length=64), nullable=False),
        sa.Column("feedback_id", sa.String(length=32), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("golden_cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_golden_cases_golden_set"), ["golden_set"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("golden_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_golden_cases_golden_set"))
    op.drop_table("golden_cases")
    with op.batch_alter_table("answer_overrides", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_answer_overrides_feedback_id"))
        batch_op.drop_index(batch_op.f("ix_answer_overrides_scope_key"))
    op.drop_table("answer_overrides")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_created_at"))
        batch_op.drop_index(batch_op.f("ix_feedback_state"))
        batch_op.drop_index(batch_op.f("ix_feedback_answer_id"))
    op.drop_table("feedback")
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_answers_created_at"))
        batch_op.drop_index(batch_op.f("ix_answers_template_id"))
        batch_op.drop_index(batch_op.f("ix_answers_scope_key"))
        batch_op.drop_index(batch_op.f("ix_answers_team"))
        batch_op.drop_index(batch_op.f("ix_answers_user"))
    op.drop_table("answers")
    op.drop_table("templates")
