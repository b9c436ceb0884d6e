"""Intake: store the original, decide what it is, and queue it once.

Idempotence lives here: the same bytes in a collection are one document (the id is derived
from the collection and the content hash), and a document that is ready is never processed
again. Anything wrong with the file itself becomes a failed document with its reason. An upload
made by someone is audited here, file by file, before its document is recorded or queued: a
request cut short (the server killed mid-way) leaves no document the trail does not name.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Protocol

from core.catalog import Catalog, Jobs
from core.catalog.audit import AuditTrail
from core.domain import Document, DocumentStatus, JobState
from core.errors import IngestFailed, InvalidInput, NotFound, SourcebookError, TooLarge
from core.settings import Settings
from ingest.archives import UnpackLimits, check_unpacked_size
from ingest.blobs import BlobStore, Oversized, StoredBlob
from ingest.detect import detect_media_type, safe_source_name
from ingest.parse import ParseLimits
from ingest.pii import PiiPolicy
from ingest.pipeline import IngestTask

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    QUEUED = "queued"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Submission:
    source_name: str
    outcome: Outcome
    document_id: str | None
    job_id: str | None
    error: SourcebookError | None = None  # why it was rejected, or why it failed before

    @property
    def reason(self) -> str | None:
        return self.error.reason if self.error is not None else None


class Executor(Protocol):
    def submit(self, task: IngestTask) -> None: ...

    def in_flight(self, document_id: str) -> bool: ...


def document_id(collection: str, sha256: str) -> str:
    return hashlib.sha256(f"{collection}\x00{sha256}".encode()).hexdigest()[:32]


class Intake:
    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        jobs: Jobs,
        blobs: BlobStore,
        executor: Executor,
        audit: AuditTrail | None = None,
        model: Callable[[], str] | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.jobs = jobs
        self.blobs = blobs
        self.executor = executor
        self.audit = audit
        # The model documents are embedded with now: the live one, which a switch changes.
        self.model: Callable[[], str] = model or (lambda: settings.embedder)

    def add_path(
        self,
        collection: str,
        path: Path,
        *,
        name: str | None = None,
        retry_failed: bool = False,
        actor: str | None = None,
    ) -> Submission:
        """Ingest a file; ``name`` (default: the file name) may be its path inside a folder."""
        with path.open("rb") as stream:
            return self.add(collection, name or path.name, stream, retry_failed=retry_failed, actor=actor)

    def add(
        self,
        collection: str,
        raw_name: str,
        stream: BinaryIO,
        *,
        tags: tuple[str, ...] = (),
        retry_failed: bool = False,
        actor: str | None = None,
    ) -> Submission:
        """Store the file and queue it once; ``actor``: who uploads it, for the audit trail."""
        name = safe_source_name(raw_name)
        try:
            blob = self.blobs.put(stream, self.settings.max_upload_bytes)
            media_type, error = self._media_type(blob, name)
            sha, size = blob.sha256, blob.size
        except Oversized as exc:
            blob, media_type, error, sha, size = None, "application/octet-stream", exc, exc.sha256, exc.size
        doc_id = document_id(collection, sha)
        existing = self.catalog.find_document(doc_id)
        unchanged = existing is not None and not self._needs_work(existing, retry_failed)
        if actor is not None and self.audit is not None:
            outcome = (
                Outcome.UNCHANGED if unchanged else Outcome.QUEUED if blob and not error else Outcome.REJECTED
            )
            self.audit.record(
                actor,
                "upload",
                collection,
                team=self.catalog.collection_team(collection),
                detail={
                    "source_name": name,
                    "document_id": doc_id,
                    "sha256": sha,
                    "size": size,
                    "outcome": outcome.value,
                    "reason": error.reason if error else None,
                },
            )
        if existing is not None and unchanged:
            failed = IngestFailed(existing.failure_reason) if existing.failure_reason else None
            return Submission(name, Outcome.UNCHANGED, doc_id, None, failed)
        if existing is None:
            self.catalog.add_document(
                Document(
                    id=doc_id,
                    collection=collection,
                    source_name=name,
                    media_type=media_type,
                    sha256=sha,
                    size=size,
                    status=DocumentStatus.QUEUED,
                    version=self._next_version(collection, name),
                    tags=tags,
                )
            )
        # One commit for the job and its document, and none to mark a document queued that was
        # just added so: four SQLite commits a file were the largest part of the intake's time.
        job_id = self.jobs.create(collection, name, document_id=doc_id, attempts=1)
        if error is not None or blob is None:
            error = error or InvalidInput("the file could not be stored")
            reason = error.reason
            self.catalog.update_document(doc_id, status=DocumentStatus.FAILED, failure_reason=reason)
            self.jobs.update(job_id, state=JobState.FAILED, stage="failed", progress=1.0, error=reason)
            return Submission(name, Outcome.REJECTED, doc_id, job_id, error)
        if existing is not None:
            self.catalog.update_document(doc_id, status=DocumentStatus.QUEUED, failure_reason=None)
        self.executor.submit(self._task(job_id, doc_id, collection, name, media_type, blob.path))
        return Submission(name, Outcome.QUEUED, doc_id, job_id)

    def resume(self) -> list[Submission]:
        """Queue again what a stopped process left queued or half done (its pool died with it)."""
        resumed = []
        for doc in self.catalog.documents():
            if doc.status not in {DocumentStatus.QUEUED, DocumentStatus.PROCESSING}:
                continue
            if self.executor.in_flight(doc.id):
                continue
            path = self.blobs.path(doc.sha256)
            job_id = self.jobs.create(doc.collection, doc.source_name, document_id=doc.id, attempts=1)
            if not path.is_file():
                reason = "the original file is no longer stored; upload it again"
                self.catalog.update_document(doc.id, status=DocumentStatus.FAILED, failure_reason=reason)
                self.jobs.update(job_id, state=JobState.FAILED, stage="failed", error=reason)
                continue
            self.executor.submit(
                self._task(job_id, doc.id, doc.collection, doc.source_name, doc.media_type, path)
            )
            resumed.append(Submission(doc.source_name, Outcome.QUEUED, doc.id, job_id))
        return resumed

    def reindex(self, collection: str) -> list[Submission]:
        """Process every ready document of a collection again (new chunking, parser or PII policy).

        Documents stay ready and searchable: each one's new chunks overwrite its old ones in
        place and the stale remainder goes after (``IndexWriter.commit``); one that fails keeps
        its current chunks, and only its job fails.
        """
        self.catalog.collection_team(collection)  # NotFound for an unknown collection
        queued = []
        for doc in self.catalog.documents(collection):
            if doc.status is not DocumentStatus.READY or self.executor.in_flight(doc.id):
                continue
            job_id = self.jobs.create(
                doc.collection, doc.source_name, document_id=doc.id, attempts=1, stage="re-indexing"
            )
            if not self.blobs.path(doc.sha256).is_file():
                missing = NotFound("the original file is no longer stored; upload it again")
                self.jobs.update(job_id, state=JobState.FAILED, stage="failed", error=missing.reason)
                queued.append(Submission(doc.source_name, Outcome.REJECTED, doc.id, job_id, missing))
                continue
            self.executor.submit(self.task_for(job_id, doc))
            queued.append(Submission(doc.source_name, Outcome.QUEUED, doc.id, job_id))
        return queued

    def task_for(self, job_id: str, doc: Document) -> IngestTask:
        """What a worker needs to process a catalogued document (built where it runs, from ids)."""
        return self._task(
            job_id, doc.id, doc.collection, doc.source_name, doc.media_type, self.blobs.path(doc.sha256)
        )

    def _needs_work(self, doc: Document, retry_failed: bool) -> bool:
        if doc.status is DocumentStatus.READY or self.executor.in_flight(doc.id):
            return False
        if doc.status is DocumentStatus.FAILED:
            return retry_failed
        return True  # queued or processing in a run that stopped before finishing it

    def _media_type(self, blob: StoredBlob, name: str) -> tuple[str, InvalidInput | None]:
        try:
            media_type = detect_media_type(blob.head, name, blob.path)
        except InvalidInput as exc:
            return "application/octet-stream", exc
        try:
            check_unpacked_size(blob.path, media_type, self._unpack_limits)  # refused at upload: 413
        except TooLarge as exc:
            return media_type, exc
        return media_type, None

    @property
    def _unpack_limits(self) -> UnpackLimits:
        return UnpackLimits(self.settings.max_unpacked_bytes, self.settings.max_unpacked_ratio)

    def _next_version(self, collection: str, name: str) -> int:
        try:
            versions = [d.version for d in self.catalog.documents(collection, source_name=name)]
        except NotFound:
            return 1
        return max(versions, default=0) + 1

    def _task(
        self, job_id: str, doc_id: str, collection: str, name: str, media_type: str, path: Path
    ) -> IngestTask:
        s = self.settings
        pii_policy, pii_patterns = self.catalog.pii_settings(collection)
        return IngestTask(
            job_id=job_id,
            document_id=doc_id,
            collection=collection,
            source_name=name,
            media_type=media_type,
            blob_path=str(path.resolve()),
            embedder=self.model(),
            limits=ParseLimits(
                s.max_image_pixels, s.max_pages, s.ocr_languages, s.ocr_dpi, self._unpack_limits
            ),
            chunk_tokens=s.chunk_tokens,
            chunk_overlap=s.chunk_overlap,
            pii_policy=PiiPolicy(pii_policy),
            pii_patterns=pii_patterns,
            precision=s.embed_precision,
            models_dir=str(s.models_dir.resolve()),
        )
