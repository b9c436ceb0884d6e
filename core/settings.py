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

    embedder: Literal["minilm", "hashing"] = "minilm"
    reranker: Literal["none", "sentence"] = Field(
        "none", description="sentence: +0.016 nDCG@10 on SciFact dev, but seconds per query on 2 CPUs."
    )
    generator: Literal["extractive", "openai"] = "extractive"
    openai_base_url: str | None = Field(None, description="An OpenAI-compatible endpoint (vLLM, Ollama…).")
    openai_model: str = "gpt-4o-mini"
    openai_api_key: SecretStr | None = None
    openai_timeout_s: float = Field(60.0, gt=0)
    executor: Literal["local", "celery"] = "local"
    workers: int = Field(2, ge=1, le=64, description="Child processes that parse, OCR and embed.")
    document_timeout_s: float = Field(600.0, gt=0, description="Per-document time limit.")

    max_upload_bytes: int = Field(200 * MB, gt=0)
    max_image_pixels: int = Field(
        120_000_000, gt=0, description="Larger images are refused as decompression bombs."
    )
    max_pages: int = Field(2000, gt=0)
    ocr_languages: str = "eng"
    ocr_dpi: int = Field(200, ge=72, le=600)
    chunk_tokens: int = Field(220, ge=32, le=512, description="Chunk size in embedder tokens.")
    chunk_overlap: int = Field(32, ge=0, le=256)

    @model_validator(mode="after")
    def _check_topology(self) -> Settings:
        if self.vector_store == "server" and not self.qdrant_url:
            raise ValueError("vector_store=server needs SOURCEBOOK_QDRANT_URL")
        if self.executor == "celery" and self.vector_store != "server":
            raise ValueError("executor=celery needs vector_store=server: an embedded Qdrant has one owner")
        if self.generator == "openai" and not self.openai_base_url:
            raise ValueError("generator=openai needs SOURCEBOOK_OPENAI_BASE_URL")
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError("chunk_overlap must be smaller than chunk_tokens")
        return self

    @property
    def catalog_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'catalog.db').resolve()}"

    @property
    def blob_dir(self) -> Path:
        return self.home / "originals"

    @property
    def qdrant_path(self) -> Path:
        # One shard per embedder: switching models never mixes vectors of different spaces.
        return self.home / "qdrant" / self.embedder
