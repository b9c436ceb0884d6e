"""Tables of the SQL catalog (SQLAlchemy 2 typed mappings). Schema changes go through Alembic."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(at: datetime) -> datetime:
    """A stored time in UTC: SQLite hands back naive datetimes, PostgreSQL aware ones."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True)}


class CollectionRow(Base):
    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    team: Mapped[str] = mapped_column(String(128), index=True, default="default")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    pii_policy: Mapped[str] = mapped_column(String(16), default="allow", server_default="allow")
    pii_patterns: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)

    documents: Mapped[list[DocumentRow]] = relationship(
        back_populates="collection", cascade="all, delete-orphan", passive_deletes=True
    )


class DocumentRow(Base):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("collection_id", "sha256", name="uq_document_content"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    source_name: Mapped[str] = mapped_column(String(255), index=True)
    media_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    page_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    title: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    pii_found: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    collection: Mapped[CollectionRow] = relationship(back_populates="documents")
    chunks: Mapped[list[ChunkRow]] = relationship(
        back_populates="document", cascade="all, delete-orphan", passive_deletes=True
    )


class ChunkRow(Base):
    __tablename__ = "chunks"
    __table_args__ = (UniqueConstraint("document_id", "index", name="uq_chunk_position"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    pages: Mapped[list[int]] = mapped_column(JSON)
    section_path: Mapped[list[str]] = mapped_column(JSON, default=list)
    char_start: Mapped[int] = mapped_column(Integer)
    char_end: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))

    document: Mapped[DocumentRow] = relationship(back_populates="chunks")


class ChunkBoxesRow(Base):
    """Where a chunk's words sit on its pages (``core.layout.pack``), for highlighting citations.
    A row of its own, so listing and searching chunks never reads it; it goes with its chunk."""

    __tablename__ = "chunk_boxes"

    chunk_id: Mapped[str] = mapped_column(ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True)
    boxes: Mapped[bytes] = mapped_column(LargeBinary)


class JobRow(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    source_name: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), index=True)
    stage: Mapped[str] = mapped_column(String(32), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    teams: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # the key's public prefix
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class AuditRow(Base):
    """One entry of the append-only audit trail; ``hash`` chains it to the entry before it."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(128))
    team: Mapped[str | None] = mapped_column(String(128), nullable=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(512), default="")
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # None once purged
    detail_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditAnchorRow(Base):
    """Where the chain starts after old entries were deleted: the last deleted entry's hash."""

    __tablename__ = "audit_anchor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class UsageRow(Base):
    """A request or credit counter for one user or team over one window (single-node quotas)."""

    __tablename__ = "usage_counters"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    window_end: Mapped[datetime] = mapped_column(index=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class RateLimitRow(Base):
    """An operator's rate limit for one user or team, in place of the settings' default."""

    __tablename__ = "rate_limits"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # user or team
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    per_minute: Mapped[int] = mapped_column(Integer)  # requests per window; 0: no limit
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TemplateRow(Base):
    """One version of a question template; a change adds a row, never edits one."""

    __tablename__ = "templates"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    team: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)  # None: global
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnswerRow(Base):
    """Every answer given, with its question PII-redacted as the audit trail keeps it."""

    __tablename__ = "answers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user: Mapped[str] = mapped_column(String(128), index=True)
    team: Mapped[str] = mapped_column(String(512), default="", index=True)  # the asker's teams, comma-joined
    collections: Mapped[list[str]] = mapped_column(JSON, default=list)
    question: Mapped[str] = mapped_column(Text)
    scope_key: Mapped[str] = mapped_column(String(64), index=True)  # what a human override matches on
    template_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    template_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    values: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    refused: Mapped[bool] = mapped_column(Boolean, default=False)
    escalate: Mapped[bool] = mapped_column(Boolean, default=False)
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)
    latency_ms: Mapped[float] = mapped_column(Float)
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    override_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class FeedbackRow(Base):
    """A person's verdict on an answer; unhelpful or flagged ones wait in the review queue."""

    __tablename__ = "feedback"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    answer_id: Mapped[str] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), index=True)
    user: Mapped[str] = mapped_column(String(128))
    helpful: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    state: Mapped[str] = mapped_column(String(16), index=True)  # open, closed, or none (not for review)
    verdict: Mapped[str | None] = mapped_column(String(16), nullable=True)
    correct_answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    correct_sources: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    reviewer: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class OverrideRow(Base):
    """An answer a reviewer approved: served first to the same question in the same scope."""

    __tablename__ = "answer_overrides"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scope_key: Mapped[str] = mapped_column(String(64), index=True)
    feedback_id: Mapped[str] = mapped_column(ForeignKey("feedback.id", ondelete="CASCADE"), index=True)
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)
    verdict: Mapped[str] = mapped_column(String(16))
    reviewer: Mapped[str] = mapped_column(String(128))
    approved_at: Mapped[datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class GoldenCaseRow(Base):
    """A reviewed case promoted into a named golden set, in the golden-set JSONL format."""

    __tablename__ = "golden_cases"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    golden_set: Mapped[str] = mapped_column(String(64), index=True)  # a name unique within a team
    team: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)  # its collection's
    feedback_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelSwitchRow(Base):
    """One switch of the live index: the model that embeds questions and documents, and the index
    (an Edge shard folder or a server collection) built with it. The newest row is live."""

    __tablename__ = "model_switches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    model: Mapped[str] = mapped_column(String(64))
    index_name: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(16))  # use, rollback, rebuild
    actor: Mapped[str] = mapped_column(String(128))
    previous_model: Mapped[str | None] = mapped_column(String(64), nullable=True)
    documents: Mapped[int] = mapped_column(Integer, default=0)


class QualityRunRow(Base):
    """One scheduled run of a collection's golden cases against the live configuration."""

    __tablename__ = "quality_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    collection: Mapped[str] = mapped_column(String(128), index=True)
    model: Mapped[str] = mapped_column(String(64))
    templates: Mapped[dict[str, Any]] = mapped_column(JSON)  # template id -> version, as asked
    cases: Mapped[int] = mapped_column(Integer)
    correct: Mapped[float | None] = mapped_column(Float, nullable=True)
    gold_cited: Mapped[float | None] = mapped_column(Float, nullable=True)
    refused: Mapped[float | None] = mapped_column(Float, nullable=True)
    dropped: Mapped[list[str]] = mapped_column(JSON)  # the rates that fell past the tolerance
