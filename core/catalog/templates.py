"""Question templates in the catalog: versions are append-only, every change is audited.

The catalog stores a template's body as JSON and knows nothing of its meaning; ``retrieval``
checks and renders it. A version once written never changes, so an answer that records
``(template id, version)`` can always be traced to the exact form and pattern behind it.
Retiring hides a template from the list and keeps every version.

A template belongs to one team, or to none (global: the shipped starter set, or one an admin
made for everyone). Its id is unique across teams, and a taken id is refused with the same words
whoever holds it, so the refusal never says which team has it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from core.catalog.audit import AuditTrail
from core.catalog.database import Database
from core.catalog.models import TemplateRow
from core.errors import Conflict, NotFound

SEEDER = "sourcebook"  # updated_by of the versions seeded from the shipped YAML


@dataclass(frozen=True, slots=True)
class StoredTemplate:
    id: str
    version: int
    body: dict[str, Any]
    retired: bool
    updated_by: str
    updated_at: datetime
    team: str | None = None  # None: global


def _stored(row: TemplateRow) -> StoredTemplate:
    at = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)
    return StoredTemplate(row.id, row.version, dict(row.body), row.retired, row.updated_by, at, row.team)


class TemplateStore:
    def __init__(self, db: Database, audit: AuditTrail) -> None:
        self.db = db
        self.audit = audit

    def latest(
        self, *, teams: tuple[str, ...] | None = None, include_retired: bool = False
    ) -> list[StoredTemplate]:
        """The newest version of each template of ``teams`` and of every global one (``teams``
        None: of every team)."""
        newest = (
            select(TemplateRow.id, func.max(TemplateRow.version).label("version"))
            .group_by(TemplateRow.id)
            .subquery()
        )
        query = (
            select(TemplateRow)
            .join(newest, (TemplateRow.id == newest.c.id) & (TemplateRow.version == newest.c.version))
            .order_by(TemplateRow.id)
        )
        if not include_retired:
            query = query.where(TemplateRow.retired.is_(False))
        if teams is not None:
            query = query.where(TemplateRow.team.is_(None) | TemplateRow.team.in_(teams))
        with self.db.session() as s:
            return [_stored(row) for row in s.scalars(query)]

    def get(self, template_id: str, version: int | None = None) -> StoredTemplate:
        query = select(TemplateRow).where(TemplateRow.id == template_id)
        if version is None:
            query = query.order_by(TemplateRow.version.desc()).limit(1)
        else:
            query = query.where(TemplateRow.version == version)
        with self.db.session() as s:
            row = s.scalars(query).first()
            if row is None:
                if version is not None and self._exists(template_id):
                    raise NotFound(f"template {template_id!r} has no version {version}")
                raise NotFound(f"no template {template_id!r}")
            return _stored(row)

    def versions(self, template_id: str) -> list[int]:
        with self.db.session() as s:
            return list(
                s.scalars(
                    select(TemplateRow.version)
                    .where(TemplateRow.id == template_id)
                    .order_by(TemplateRow.version)
                )
            )

    def _exists(self, template_id: str) -> bool:
        with self.db.session() as s:
            return s.scalar(select(TemplateRow.id).where(TemplateRow.id == template_id).limit(1)) is not None

    def create(self, body: Mapping[str, Any], team: str | None, actor: str) -> StoredTemplate:
        """Version 1 of a new template of ``team`` (None: global)."""
        template_id = str(body["id"])
        if self._exists(template_id):
            raise Conflict(taken(template_id))
        stored = self._append(template_id, 1, body, actor, team)
        self.audit.record(
            actor, "template.create", template_id, team=team, detail={"version": 1, "body": dict(body)}
        )
        return stored

    def update(self, template_id: str, body: Mapping[str, Any], actor: str) -> StoredTemplate:
        """A new version; a retired template comes back into use with it."""
        current = self.get(template_id)
        stored = self._append(template_id, current.version + 1, body, actor, current.team)
        if current.retired:
            with self.db.session() as s:
                s.execute(update(TemplateRow).where(TemplateRow.id == template_id).values(retired=False))
        self.audit.record(
            actor,
            "template.update",
            template_id,
            team=current.team,
            detail={"version": stored.version, "body": dict(body), "restored": current.retired},
        )
        return stored

    def retire(self, template_id: str, actor: str) -> None:
        current = self.get(template_id)
        with self.db.session() as s:
            s.execute(update(TemplateRow).where(TemplateRow.id == template_id).values(retired=True))
        self.audit.record(
            actor, "template.retire", template_id, team=current.team, detail={"version": current.version}
        )

    def seed(self, shipped: list[tuple[Mapping[str, Any], str | None]]) -> list[str]:
        """Add the shipped templates, each ``(body, team)`` (team None: global): new ones as version
        1; a changed shipped one as a new version unless a person has changed or retired it since
        (its team stays the one it was created with). Returns the ids written."""
        written = []
        for body, team in shipped:
            template_id = str(body["id"])
            try:
                current = self.get(template_id)
            except NotFound:
                current = None
            if current is not None and (
                current.retired or current.updated_by != SEEDER or current.body == dict(body)
            ):
                continue
            version, team = (1, team) if current is None else (current.version + 1, current.team)
            try:
                self._append(template_id, version, body, SEEDER, team)
            except Conflict:
                continue  # another replica seeded it at the same moment
            self.audit.record(SEEDER, "template.seed", template_id, team=team, detail={"version": version})
            written.append(template_id)
        return written

    def _append(
        self, template_id: str, version: int, body: Mapping[str, Any], actor: str, team: str | None
    ) -> StoredTemplate:
        row = TemplateRow(
            id=template_id,
            version=version,
            team=team,
            body=dict(body),
            retired=False,
            updated_by=actor,
            updated_at=datetime.now(UTC),
        )
        try:
            with self.db.session() as s:
                s.add(row)
                s.flush()
                return _stored(row)
        except IntegrityError as exc:
            if version == 1:
                raise Conflict(taken(template_id)) from exc
            raise Conflict(
                f"template {template_id!r} version {version} was written by someone else just now; try again"
            ) from exc


def taken(template_id: str) -> str:
    """The refusal of a taken id: the same words whichever team holds it."""
    return (
        f"the template id {template_id!r} is taken: choose another id, or change your own template with PUT"
    )
