"""templates and golden cases belong to a team

A template's team (NULL: a global template, offered to every team and changed by admins only) and
a golden case's team (its collection's), so neither is listed, read or changed across teams.

Existing rows are given the team they would have had: a template seeded by Sourcebook or created
by an admin stays global; one a person created belongs to its creator's team (of several, the
first its audience names, else the first); a golden case belongs to its collection's team.

Revision ID: 0007_teams
Revises: 0006
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007_teams"
down_revision = "0006"
branch_labels = None
depends_on = None

SEEDER = "sourcebook"


def upgrade() -> None:
    with op.batch_alter_table("templates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team", sa.String(length=128), nullable=True))
        batch_op.create_index(batch_op.f("ix_templates_team"), ["team"], unique=False)
    with op.batch_alter_table("golden_cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team", sa.String(length=128), nullable=True))
        batch_op.create_index(batch_op.f("ix_golden_cases_team"), ["team"], unique=False)
    connection = op.get_bind()
    _backfill_templates(connection)
    _backfill_golden(connection)


def _backfill_templates(connection: sa.Connection) -> None:
    templates = sa.table(
        "templates",
        sa.column("id", sa.String),
        sa.column("version", sa.Integer),
        sa.column("body", sa.JSON),
        sa.column("updated_by", sa.String),
        sa.column("team", sa.String),
    )
    users = sa.table("users", sa.column("name", sa.String), sa.column("role", sa.String), sa.column("teams", sa.JSON))
    people = {row.name: (row.role, list(row.teams or [])) for row in connection.execute(sa.select(users))}
    first: dict[str, Any] = {}  # template id -> (creator, latest body)
    for row in connection.execute(sa.select(templates).order_by(templates.c.id, templates.c.version)):
        creator = first[row.id][0] if row.id in first else row.updated_by
        first[row.id] = (creator, row.body or {})
    for template_id, (creator, body) in first.items():
        team = _creator_team(creator, body, people)
        if team is not None:
            connection.execute(sa.update(templates).where(templates.c.id == template_id).values(team=team))


def _creator_team(creator: str, body: dict[str, Any], people: dict[str, tuple[str, list[str]]]) -> str | None:
    if creator == SEEDER or creator not in people:
        return None
    role, teams = people[creator]
    if role == "admin" or not teams:
        return None
    audience = [name for name in body.get("audience") or [] if name in teams]
    return str(audience[0] if audience else teams[0])


def _backfill_golden(connection: sa.Connection) -> None:
    golden = sa.table("golden_cases", sa.column("id", sa.String), sa.column("body", sa.JSON), sa.column("team", sa.String))
    collections = sa.table("collections", sa.column("name", sa.String), sa.column("team", sa.String))
    teams = {row.name: row.team for row in connection.execute(sa.select(collections))}
    for row in connection.execute(sa.select(golden.c.id, golden.c.body)).all():
        team = teams.get(str((row.body or {}).get("collection")))
        if team is not None:
            connection.execute(sa.update(golden).where(golden.c.id == row.id).values(team=team))


def downgrade() -> None:
    with op.batch_alter_table("golden_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_golden_cases_team"))
        batch_op.drop_column("team")
    with op.batch_alter_table("templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_templates_team"))
        batch_op.drop_column("team")
