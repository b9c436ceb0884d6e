"""The composition root: the one place that reads settings to choose backends."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from core.catalog import Catalog
from core.protocols import Embedder, Generator, Reranker, VectorStore
from core.settings import Settings

if TYPE_CHECKING:
    from ingest.blobs import BlobStore
    from ingest.executor import LocalPoolExecutor
    from ingest.intake import Intake
    from retrieval.search import Searcher

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    catalog: Catalog
    store: VectorStore
    _executor: LocalPoolExecutor | None = field(default=None, init=False)

    @classmethod
    def open(cls, settings: Settings) -> Services:
        settings.home.mkdir(parents=True, exist_ok=True)
        catalog = Catalog.connect(settings.catalog_url)
        return cls(settings, catalog, open_store(settings))

    @cached_property
    def embedder(self) -> Embedder:
        from ingest.embed import BatchingEmbedder, create_embedder

        return BatchingEmbedder(create_embedder(self.settings.embedder))

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
            from retrieval.llm import CitationChecker, OpenAICompatibleGenerator

            assert s.openai_base_url is not None  # the settings validator guarantees it
            key = s.openai_api_key.get_secret_value() if s.openai_api_key else "not-needed"
            checker = CitationChecker(self.embedder)
            return OpenAICompatibleGenerator(
                s.openai_base_url, s.openai_model, key, s.openai_timeout_s, checker
            )
        from retrieval.extractive import ExtractiveGenerator

        return ExtractiveGenerator(self.embedder)

    @cached_property
    def blobs(self) -> BlobStore:
        from ingest.blobs import BlobStore

        return BlobStore(self.settings.blob_dir)

    @property
    def executor(self) -> LocalPoolExecutor:
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

    def delete_document(self, document_id: str) -> None:
        """Remove a document everywhere: vectors, chunks, row and (if unshared) its original."""
        document = self.catalog.get_document(document_id)
        self.store.delete_document(document_id)
        self.catalog.delete_document(document_id)
        if not any(d.sha256 == document.sha256 for d in self.catalog.documents()):
            self.blobs.delete(document.sha256)

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
            settings.qdrant_url, dimension, f"{settings.qdrant_collection}-{settings.embedder}", key
        )
    from retrieval.stores.edge import EdgeVectorStore

    return EdgeVectorStore(settings.qdrant_path, dimension)
