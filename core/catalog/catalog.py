"""The SQL catalog: collections, documents and chunks, on SQLite or PostgreSQL (jobs: ``jobs.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.catalog.database import MIGRATIONS, Database
from core.catalog.models import ChunkRow, CollectionRow, DocumentRow, JobRow
from core.domain import Chunk, Document, DocumentStatus, ElementKind
from core.errors import Conflict, NotFound

__all__ = ["MIGRATIONS", "Catalog", "CollectionInfo", "name_taken"]


def name_taken(name: str) -> str:
    """Why a new collection cannot have this name. Names are unique across teams, so the words
    are the same whether the caller's team or another holds it: the refusal names no team."""
    return f"the collection name {name!r} is taken: choose another name"


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    name: str
    team: str
    description: str
    document_count: int
    chunk_count: int
    pii_policy: str = "allow"
    pii_patterns: tuple[tuple[str, str], ...] = ()


class Catalog:
    """Collections, documents and chunks: their rows in the database. Every method is its own
    transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    def connect(cls, url: str, *, migrate: bool = True) -> Catalog:
        """A catalog on its own database (``Database.connect``): for a worker's parent, tests, eval."""
        return cls(Database.connect(url, migrate=migrate))

    @property
    def engine(self) -> Engine:
        return self.db.engine

    def migrate(self) -> None:
        self.db.migrate()

    def close(self) -> None:
        self.db.close()

    def session(self) -> AbstractContextManager[Session]:
        return self.db.session()

    # -- collections ------------------------------------------------------------------------

    def ensure_collection(self, name: str, team: str = "default", description: str = "") -> None:
        with self.session() as s:
            if s.scalar(select(CollectionRow.id).where(CollectionRow.name == name)) is None:
                s.add(CollectionRow(name=name, team=team, description=description))

    def create_collection(self, name: str, team: str, **values: Any) -> None:
        """A new collection of ``team`` with its description and PII policy, in one transaction;
        ``Conflict`` when the name is taken, with the same words whichever team holds it."""
        try:
            with self.session() as s:
                s.add(CollectionRow(name=name, team=team, **values))
                s.flush()
        except IntegrityError as exc:
            raise Conflict(name_taken(name)) from exc

    def update_collection(self, name: str, **values: Any) -> None:
        """Change a collection's description or PII policy (``pii_policy``, ``pii_patterns``)."""
        with self.session() as s:
            row = s.scalar(select(CollectionRow).where(CollectionRow.name == name))
            if row is None:
                raise NotFound(f"no collection named {name!r}")
            for key, value in values.items():
                setattr(row, key, value)

    def pii_settings(self, name: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        """A collection's PII policy and its own patterns, as (label, regex) pairs."""
        with self.session() as s:
            row = s.execute(
                select(CollectionRow.pii_policy, CollectionRow.pii_patterns).where(CollectionRow.name == name)
            ).first()
        if row is None:
            raise NotFound(f"no collection named {name!r}")
        return row.pii_policy, tuple(sorted((row.pii_patterns or {}).items()))

    def collection_team(self, name: str) -> str:
        with self.session() as s:
            team = s.scalar(select(CollectionRow.team).where(CollectionRow.name == name))
        if team is None:
            raise NotFound(f"no collection named {name!r}")
        return team

    def collection_teams(self) -> dict[str, str]:
        """Each collection's team, by name: what access checks need, without counting documents."""
        with self.session() as s:
            return {name: team for name, team in s.execute(select(CollectionRow.name, CollectionRow.team))}

    def collections(self) -> list[CollectionInfo]:
        docs = (
            select(DocumentRow.collection_id, func.count().label("n"))
            .group_by(DocumentRow.collection_id)
            .subquery()
        )
        chunks = (
            select(DocumentRow.collection_id, func.count(ChunkRow.id).label("n"))
            .join(ChunkRow, ChunkRow.document_id == DocumentRow.id)
            .group_by(DocumentRow.collection_id)
            .subquery()
        )
        query = (
            select(CollectionRow, docs.c.n, chunks.c.n)
            .outerjoin(docs, docs.c.collection_id == CollectionRow.id)
            .outerjoin(chunks, chunks.c.collection_id == CollectionRow.id)
            .order_by(CollectionRow.name)
        )
        with self.session() as s:
            return [
                collection_info(row, n_docs or 0, n_chunks or 0) for row, n_docs, n_chunks in s.execute(query)
            ]

    def delete_collection(self, name: str) -> list[str]:
        """Delete a collection and its rows; returns the ids of the documents it held."""
        with self.session() as s:
            row = s.scalar(select(CollectionRow).where(CollectionRow.name == name))
            if row is None:
                raise NotFound(f"no collection named {name!r}")
            ids = list(s.scalars(select(DocumentRow.id).where(DocumentRow.collection_id == row.id)))
            s.execute(delete(JobRow).where(JobRow.collection_id == row.id))
            s.delete(row)
            return ids

    # -- documents --------------------------------------------------------------------------

    def add_document(self, doc: Document) -> None:
        with self.session() as s:
            s.add(document_row(doc, collection_id(s, doc.collection)))

    def get_document(self, document_id: str) -> Document:
        with self.session() as s:
            row = s.get(DocumentRow, document_id)
            if row is None:
                raise NotFound(f"no document with id {document_id!r}")
            return document_of(row)

    def find_document(self, document_id: str) -> Document | None:
        with self.session() as s:
            row = s.get(DocumentRow, document_id)
            return None if row is None else document_of(row)

    def documents(self, collection: str | None = None, *, source_name: str | None = None) -> list[Document]:
        query = select(DocumentRow).join(CollectionRow).order_by(DocumentRow.source_name)
        if collection is not None:
            query = query.where(CollectionRow.name == collection)
        if source_name is not None:
            query = query.where(DocumentRow.source_name == source_name)
        with self.session() as s:
            return [document_of(row) for row in s.scalars(query)]

    def update_document(self, document_id: str, **values: Any) -> None:
        if isinstance(values.get("status"), DocumentStatus):
            values["status"] = values["status"].value
        with self.session() as s:
            row = s.get(DocumentRow, document_id)
            if row is None:
                raise NotFound(f"no document with id {document_id!r}")
            for key, value in values.items():
                setattr(row, key, value)

    def delete_document(self, document_id: str) -> None:
        with self.session() as s:
            row = s.get(DocumentRow, document_id)
            if row is None:
                raise NotFound(f"no document with id {document_id!r}")
            s.delete(row)

    def fingerprint(self, collections: Sequence[str] = (), teams: Sequence[str] | None = None) -> str:
        """Changes whenever a document in these collections is added, changed or deleted."""
        query = select(
            func.count(DocumentRow.id), func.max(DocumentRow.updated_at), func.max(DocumentRow.created_at)
        ).join(CollectionRow)
        if collections:
            query = query.where(CollectionRow.name.in_(collections))
        if teams is not None:
            query = query.where(CollectionRow.team.in_(teams))
        with self.session() as s:
            count, updated, created = s.execute(query).one()
        return f"{count}:{updated}:{created}"

    # -- chunks -----------------------------------------------------------------------------

    def replace_chunks(self, document_id: str, chunks: Sequence[Chunk]) -> None:
        with self.session() as s:
            s.execute(delete(ChunkRow).where(ChunkRow.document_id == document_id))
            s.add_all(chunk_row(document_id, c) for c in chunks)

    def chunks(self, document_id: str) -> list[Chunk]:
        query = select(ChunkRow).where(ChunkRow.document_id == document_id).order_by(ChunkRow.index)
        with self.session() as s:
            return [chunk_of(row) for row in s.scalars(query)]

    def chunk_count(self, *, document_id: str | None = None, collection: str | None = None) -> int:
        query = select(func.count(ChunkRow.id)).join(DocumentRow)
        if document_id is not None:
            query = query.where(ChunkRow.document_id == document_id)
        if collection is not None:
            query = query.join(CollectionRow).where(CollectionRow.name == collection)
        with self.session() as s:
            return s.scalar(query) or 0


def collection_id(s: Session, name: str) -> int:
    cid = s.scalar(select(CollectionRow.id).where(CollectionRow.name == name))
    if cid is None:
        raise NotFound(f"no collection named {name!r}")
    return cid


# One mapping per model between its row and its domain value: the only places that list fields.


def collection_info(row: CollectionRow, document_count: int, chunk_count: int) -> CollectionInfo:
    return CollectionInfo(
        row.name,
        row.team,
        row.description,
        document_count,
        chunk_count,
        row.pii_policy,
        tuple(sorted((row.pii_patterns or {}).items())),
    )


def document_row(doc: Document, collection_id: int) -> DocumentRow:
    """A new document's row; ``pii_found`` and the times are the pipeline's and the database's."""
    return DocumentRow(
        id=doc.id,
        collection_id=collection_id,
        sha256=doc.sha256,
        source_name=doc.source_name,
        media_type=doc.media_type,
        size=doc.size,
        page_count=doc.page_count,
        title=doc.title,
        status=doc.status.value,
        failure_reason=doc.failure_reason,
        version=doc.version,
        tags=list(doc.tags),
    )


def document_of(row: DocumentRow) -> Document:
    return Document(
        id=row.id,
        collection=row.collection.name,
        source_name=row.source_name,
        media_type=row.media_type,
        sha256=row.sha256,
        size=row.size,
        status=DocumentStatus(row.status),
        version=row.version,
        title=row.title,
        page_count=row.page_count,
        failure_reason=row.failure_reason,
        tags=tuple(row.tags or ()),
        team=row.collection.team,
        created_at=row.created_at,
        updated_at=row.updated_at,
        pii_found=None if row.pii_found is None else tuple(sorted(row.pii_found.items())),
    )


def chunk_row(document_id: str, c: Chunk) -> ChunkRow:
    return ChunkRow(
        id=c.id,
        document_id=document_id,
        index=c.index,
        text=c.text,
        pages=list(c.pages),
        section_path=list(c.section_path),
        char_start=c.char_start,
        char_end=c.char_end,
        kind=c.kind.value,
    )


def chunk_of(row: ChunkRow) -> Chunk:
    return Chunk(
        document_id=row.document_id,
        index=row.index,
        text=row.text,
        pages=tuple(row.pages),
        section_path=tuple(row.section_path),
        char_start=row.char_start,
        char_end=row.char_end,
        kind=ElementKind(row.kind),
    )
