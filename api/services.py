"""What the API needs from the composition root (``sourcebook/wiring.py`` builds it).

A protocol, so that the web layer names its collaborators without importing the shell above it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.catalog import Catalog, Jobs
    from core.catalog.answers import AnswerLog
    from core.catalog.audit import AuditTrail
    from core.catalog.feedback import FeedbackLog
    from core.catalog.golden import GoldenSets
    from core.catalog.keys import KeyRing
    from core.catalog.review import ReviewQueue
    from core.catalog.serving import ModelSwitches, QualityRuns
    from core.catalog.templates import TemplateStore
    from core.protocols import Generator, VectorStore
    from core.quota import Quotas
    from core.settings import Settings
    from ingest.blobs import BlobStore
    from ingest.intake import Intake
    from ingest.library import Library
    from ingest.models import Models
    from ingest.precision import Precision
    from retrieval.answering import Answering
    from retrieval.cache import AnswerCache
    from retrieval.search import Searcher
    from retrieval.stores.switching import LiveIndex


class Services(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def jobs(self) -> Jobs: ...

    @property
    def store(self) -> VectorStore: ...

    @property
    def blobs(self) -> BlobStore: ...

    @property
    def intake(self) -> Intake: ...

    @property
    def library(self) -> Library: ...

    @property
    def searcher(self) -> Searcher: ...

    @property
    def precision(self) -> Precision: ...

    @property
    def question_runtime(self) -> str: ...

    @property
    def answering(self) -> Answering: ...

    @property
    def generator(self) -> Generator: ...

    @property
    def provenance(self) -> tuple[tuple[str, str], ...]: ...

    @property
    def quotas(self) -> Quotas: ...

    @property
    def answer_cache(self) -> AnswerCache | None: ...

    @property
    def keys(self) -> KeyRing: ...

    @property
    def audit(self) -> AuditTrail: ...

    @property
    def templates(self) -> TemplateStore: ...

    @property
    def answers(self) -> AnswerLog: ...

    @property
    def feedback(self) -> FeedbackLog: ...

    @property
    def review_queue(self) -> ReviewQueue: ...

    @property
    def golden_sets(self) -> GoldenSets: ...

    @property
    def live(self) -> LiveIndex: ...

    @property
    def models(self) -> Models: ...

    @property
    def model_switches(self) -> ModelSwitches: ...

    @property
    def quality_runs(self) -> QualityRuns: ...

    def warm_up(self) -> None: ...

    def close(self) -> None: ...
