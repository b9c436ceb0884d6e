"""Who may do what: roles, the principal behind a request, and the team rule.

Collections belong to teams. A principal sees the collections of its teams (an admin sees all),
and that set is what the vector query filters on, so nothing outside it is ever retrieved.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.errors import Forbidden


class Role(StrEnum):
    ADMIN = "admin"
    KNOWLEDGE_MANAGER = "knowledge_manager"
    AGENT = "agent"
    ENGINEER = "engineer"


class Action(StrEnum):
    READ = "read"  # search, ask, list and open documents
    UPLOAD = "upload"  # add and delete documents
    MANAGE_COLLECTIONS = "manage_collections"
    MANAGE_KEYS = "manage_keys"
    READ_AUDIT = "read_audit"  # the audit trail and everyone's usage
    MANAGE_TEMPLATES = "manage_templates"  # create, change and retire question templates
    REVIEW = "review"  # the review queue, human overrides, golden sets


_GRANTS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.KNOWLEDGE_MANAGER: frozenset(
        {Action.READ, Action.UPLOAD, Action.MANAGE_COLLECTIONS, Action.MANAGE_TEMPLATES, Action.REVIEW}
    ),
    Role.AGENT: frozenset({Action.READ}),
    Role.ENGINEER: frozenset({Action.READ, Action.REVIEW}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    user: str
    role: Role
    teams: tuple[str, ...]

    @property
    def visible_teams(self) -> tuple[str, ...] | None:
        """Teams whose collections this principal sees; None means every team (admin)."""
        return None if self.role is Role.ADMIN else self.teams

    def require(self, action: Action, team: str | None = None) -> None:
        if action not in _GRANTS[self.role]:
            raise Forbidden(f"the {self.role.value} role may not {action.value.replace('_', ' ')}")
        if team is not None and not self.sees(team):
            raise Forbidden(f"not a member of team {team!r}")

    def may(self, action: Action) -> bool:
        return action in _GRANTS[self.role]

    def sees(self, team: str) -> bool:
        return self.role is Role.ADMIN or team in self.teams
