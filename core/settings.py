"""The one settings class. Every field can be set as ``SOURCEBOOK_<NAME>`` in the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOURCEBOOK_", extra="ignore", frozen=True)

    home: Path = Field(Path("./var"), description="Data folder: catalog, originals, vectors.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the catalog; default: a SQLite file in home."
    )

    vector_store: Literal["edge", "server"] = "edge"
    qdrant_url: str | None = Field(
        None, description="Qdrant server URL, or ':memory:' / a path for qdrant-client local mode."
    )
    qdrant_api_key: SecretStr | None = None
    qdrant_collection: str = "sourcebook"
    qdrant_shards: int = Field(1, ge=1, le=256, description="Shards of a new Qdrant server collection.")
    qdrant_replicas: int = Field(1, ge=1, le=16, description="Copies of each shard on a Qdrant cluster.")

    embedder: str = Field(
        "minilm",
        pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$",
        description="minilm, hashing (the test double), or a tuned model under <home>/models/ by name. "
        "A model switch (sourcebook models use) recorded in the catalog takes precedence.",
    )
    embed_precision: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="auto: bfloat16 where the CPU has avx512_bf16 or amx_bf16, float32 elsewhere."
    )
    question_runtime: Literal["onnx", "torch"] = Field(
        "onnx",
        description="onnx: questions are embedded by ONNX Runtime (the model exported once into the data "
        "folder; one call outside the GIL, so searches use every core); torch: by the model that embeds "
        "documents. Falls back to torch, and says so in /readyz, where ONNX Runtime cannot run the model.",
    )
    reranker: Literal["none", "sentence"] = Field(
        "none",
        description="sentence: +0.016 nDCG@10 on SciFact dev; about a millisecond a query on sentence "
        "vectors stored at ingest, seconds on 2 CPUs over an index made before them (rebuild it).",
    )
    generator: Literal["extractive", "openai"] = "extractive"
    openai_base_url: str | None = Field(None, description="An OpenAI-compatible endpoint (vLLM, Ollama…).")
    openai_model: str = "gpt-4o-mini"
    openai_api_key: SecretStr | None = None
    openai_timeout_s: float = Field(60.0, gt=0)
    prompt_version: int | None = Field(
        None, ge=1, description="Pin the LLM prompt to this version of retrieval/prompts/answer.yaml."
    )
    executor: Literal["local", "celery"] = "local"
    workers: int = Field(2, ge=1, le=64, description="Child processes that parse, OCR and embed.")
    document_timeout_s: float = Field(600.0, gt=0, description="Per-document time limit.")

    broker_url: str | None = Field(None, description="Celery broker (Redis) URL; executor=celery needs it.")
    result_backend: str | None = Field(None, description="Celery result backend; default: the broker.")
    task_max_attempts: int = Field(
        3, ge=1, le=20, description="Deliveries of one ingestion before it fails (crashes, lost workers)."
    )
    visibility_timeout_s: int = Field(
        3600, ge=5, description="A message a lost worker took is delivered again after this long."
    )
    worker_max_memory_mb: int = Field(
        2048, ge=64, description="A worker child past this resident memory is replaced after its task."
    )
    embedded_store_owner: bool = Field(
        False,
        description="Let one Celery worker process own a qdrant-client local path (tests, one-host trials).",
    )

    max_upload_bytes: int = Field(200 * MB, gt=0)
    max_header_bytes: int = Field(
        32 * 1024, ge=1024, description="Largest request line and headers; a bigger head gets 431."
    )
    max_image_pixels: int = Field(
        120_000_000, gt=0, description="Larger images are refused as decompression bombs."
    )
    max_pages: int = Field(2000, gt=0)
    max_unpacked_bytes: int = Field(
        512 * MB, gt=0, description="Office files (zip archives) that unpack to more are refused."
    )
    max_unpacked_ratio: float = Field(
        100.0, gt=1, description="Office files that unpack to more times their size are refused."
    )
    ocr_languages: str = "eng"
    ocr_dpi: int = Field(200, ge=72, le=600)
    chunk_tokens: int = Field(220, ge=32, le=512, description="Chunk size in embedder tokens.")
    chunk_overlap: int = Field(32, ge=0, le=256)

    redis_url: str | None = Field(
        None, description="Redis for counters and the answer cache shared by API replicas; default: local."
    )
    rate_limit_user_per_minute: int = Field(120, ge=0, description="Requests a minute per user; 0: none.")
    rate_limit_team_per_minute: int = Field(1200, ge=0, description="Requests a minute per team; 0: none.")
    rate_limit_window_s: int = Field(60, ge=1, le=86_400, description="The rate limits' window.")
    credits_user_monthly: int = Field(0, ge=0, description="Credits a month per user; 0: no budget.")
    credits_team_monthly: int = Field(0, ge=0, description="Credits a month per team; 0: no budget.")
    answer_cache_ttl_s: int = Field(3600, ge=0, description="How long a cached answer lives; 0: no cache.")
    answer_cache_entries: int = Field(4096, ge=1, description="Answers kept by the in-memory cache.")
    audit_retention_days: int = Field(
        400, ge=0, description="Audit entries older than this are purged with their question text; 0: keep."
    )
    max_question_chars: int = Field(2000, ge=10, description="Longer questions are refused (400).")
    quality_interval_s: float = Field(
        0.0,
        ge=0,
        description="Run every collection's golden cases against the live configuration this often "
        "(a timer in the single-node server, Celery beat in the cluster); 0: never.",
    )
    quality_tolerance: float = Field(
        0.05, ge=0, le=1, description="A drop in a quality rate bigger than this is flagged and audited."
    )
    metrics_tenant_labels: bool = Field(
        False,
        description="Label /metrics series with tenant data (template ids); off: /metrics, which needs "
        "no key, says nothing about any team.",
    )

    @model_validator(mode="after")
    def _check_topology(self) -> Settings:
        if self.vector_store == "server" and not self.qdrant_url:
            raise ValueError("vector_store=server needs SOURCEBOOK_QDRANT_URL")
        if self.executor == "celery":
            self._check_celery()
        if self.generator == "openai" and not self.openai_base_url:
            raise ValueError("generator=openai needs SOURCEBOOK_OPENAI_BASE_URL")
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError("chunk_overlap must be smaller than chunk_tokens")
        return self

    def _check_celery(self) -> None:
        if self.vector_store != "server":
            raise ValueError("executor=celery needs vector_store=server: an embedded Qdrant has one owner")
        remote = (self.qdrant_url or "").startswith(("http://", "https://"))
        if not remote and not self.embedded_store_owner:
            raise ValueError(
                "executor=celery needs a Qdrant server URL (http:// or https://): "
                "a local Qdrant path can be opened by one process only"
            )
        if self.visibility_timeout_s <= self.hard_time_limit_s:
            raise ValueError(
                f"visibility_timeout_s must be longer than a task may run ({self.hard_time_limit_s:g} s), "
                "or running tasks are delivered twice"
            )
        if not self.broker_url:
            raise ValueError("executor=celery needs SOURCEBOOK_BROKER_URL (for example redis://redis:6379/0)")
        if not self.database_url or self.database_url.startswith("sqlite"):
            raise ValueError(
                "executor=celery needs SOURCEBOOK_DATABASE_URL on a database server (PostgreSQL): "
                "workers on other hosts share the catalog"
            )

    @property
    def hard_time_limit_s(self) -> float:
        """A parser that ignores the soft limit (``document_timeout_s``) is killed this late."""
        return self.document_timeout_s + 5.0

    @property
    def catalog_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'catalog.db').resolve()}"

    @property
    def blob_dir(self) -> Path:
        return self.home / "originals"

    @property
    def models_dir(self) -> Path:
        """Tuned models (``sourcebook tune``), one folder each."""
        return self.home / "models"

    @property
    def onnx_dir(self) -> Path:
        """Models exported for ONNX Runtime, one file per model's weights."""
        return self.home / "onnx"

    @property
    def index_dir(self) -> Path:
        """The Qdrant Edge shards: the live one, and one built beside it during a rebuild."""
        return self.home / "qdrant"

    @property
    def qdrant_path(self) -> Path:
        # One shard per embedder: switching models never mixes vectors of different spaces.
        return self.home / "qdrant" / self.embedder
