"""Throwaway indexes of evaluation corpora, cached by corpus hash.

A corpus is indexed once into its own folder under the cache (``$SOURCEBOOK_EVAL_CACHE``, default
``$SOURCEBOOK_HOME/eval-cache``), named by the sha256 of its source bytes and of the recipe
(embedder, chunk size, this module's version): a second run finds it ready and skips ingestion;
a changed corpus or recipe gets a new folder. Nothing touches the product's own collections.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.catalog import Catalog, Jobs
from core.domain import Chunk, Document, DocumentStatus, Element, ElementKind
from core.errors import IngestFailed
from core.protocols import Embedder, VectorStore
from core.settings import Settings
from eval.datasets import Corpus

RECIPE_VERSION = 2  # bump when the way a corpus is indexed changes, so stale caches are not reused
COLLECTION = "eval"
Progress = Callable[[int, int], None]  # (done, total)


def cache_root() -> Path:
    configured = os.environ.get("SOURCEBOOK_EVAL_CACHE")
    return Path(configured) if configured else Settings().home / "eval-cache"


@dataclass(frozen=True, slots=True)
class IndexRecipe:
    embedder: str = "minilm"
    chunk_tokens: int = 220
    chunk_overlap: int = 32

    def key(self, corpus: Corpus) -> str:
        text = json.dumps(
            [corpus.fingerprint, self.embedder, self.chunk_tokens, self.chunk_overlap, RECIPE_VERSION]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class EvalIndex:
    store: VectorStore
    embedder: Embedder
    folder: Path
    built: bool  # False: found in the cache
    chunks: int


@contextmanager
def open_index(
    corpus: Corpus,
    recipe: IndexRecipe,
    embedder: Embedder,
    *,
    cache: Path | None = None,
    progress: Progress | None = None,
) -> Iterator[EvalIndex]:
    """The corpus's index, built now unless the cache holds it; closed on exit. One evaluation
    at a time holds a cached index: an engine opens a shard in one process, and a second run
    that found no finished index would take the first one's build for an interrupted one and
    delete it under it. Another run of the same index waits for this one."""
    from filelock import FileLock

    folder = (cache or cache_root()) / f"{_slug(corpus.name)}-{recipe.key(corpus)}"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"), _open_index(corpus, recipe, embedder, folder, progress) as index:
        yield index


@contextmanager
def _open_index(
    corpus: Corpus, recipe: IndexRecipe, embedder: Embedder, folder: Path, progress: Progress | None
) -> Iterator[EvalIndex]:
    marker = folder / "ready.json"
    built = not marker.exists()
    if built and folder.exists():
        shutil.rmtree(folder)  # an interrupted build: start again
    folder.mkdir(parents=True, exist_ok=True)
    if corpus.folder is not None:
        with _ingested_folder(corpus, recipe, folder, built, progress) as (store, chunks):
            yield EvalIndex(store, embedder, folder, built, chunks)
        return
    from retrieval.stores.edge import EdgeVectorStore

    store = EdgeVectorStore(folder / "qdrant", embedder.dimension)
    try:
        if built:
            with _every_core(embedder):
                chunks = _index_docs(store, embedder, corpus, recipe, progress)
            marker.write_text(json.dumps({"corpus": corpus.name, "chunks": chunks}))
        else:
            chunks = int(json.loads(marker.read_text())["chunks"])
        yield EvalIndex(store, embedder, folder, built, chunks)
    finally:
        store.close()


@contextmanager
def _every_core(embedder: Embedder) -> Iterator[None]:
    """Embed a cold corpus with every core ($SOURCEBOOK_EVAL_THREADS to change it): the product
    keeps MiniLM to one thread beside OCR and the API, but this is most of a cold gate's time.
    Queries go back to one thread: for a dozen sentences more threads only spin."""
    from ingest.embed import MiniLMEmbedder

    if not isinstance(embedder, MiniLMEmbedder):  # tuned models (ingest/models.py) are MiniLMs too
        yield
        return
    import torch

    embedder.embed(["load the model"])  # loading it sets one thread: set ours after
    before = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("SOURCEBOOK_EVAL_THREADS") or os.cpu_count() or 1))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _index_docs(
    store: VectorStore, embedder: Embedder, corpus: Corpus, recipe: IndexRecipe, progress: Progress | None
) -> int:
    from ingest.chunk import Chunker
    from ingest.pipeline import embed_chunks
    from retrieval.records import sentence_spans

    chunker = Chunker(embedder.tokenize, recipe.chunk_tokens, recipe.chunk_overlap)
    pending: list[tuple[Document, list[Chunk]]] = []
    for d in corpus.docs:
        document = Document(d.id, COLLECTION, d.id, "text/plain", "", len(d.text), DocumentStatus.READY)
        if corpus.chunked:
            paragraphs = [p.strip() for p in d.text.split("\n\n") if p.strip()]
            chunks = chunker.chunk(d.id, [Element(ElementKind.TEXT, p, 1) for p in paragraphs])
        else:  # one chunk per document, its title as the heading (the BEIR convention)
            chunks = [Chunk(d.id, 0, d.text, (1,), (d.title,) if d.title else (), 0, len(d.text))]
        pending.append((document, chunks))
    total = sum(len(chunks) for _, chunks in pending)
    done = 0
    if progress:
        progress(0, total)
    batch: list[tuple[Document, list[Chunk]]] = []
    for item in [*pending, None]:
        if item is not None:
            batch.append(item)
        if batch and (item is None or sum(len(c) for _, c in batch) >= 256):
            flat = [chunk for _, chunks in batch for chunk in chunks]
            vectors, sentences = embed_chunks(embedder, flat, sentence_spans)
            at = 0
            for document, chunks in batch:
                own = None if sentences is None else sentences[at : at + len(chunks)]
                store.upsert(document, chunks, vectors[at : at + len(chunks)], own)
                at += len(chunks)
            done += len(flat)
            batch = []
            if progress:
                progress(done, total)
    return total


@contextmanager
def _ingested_folder(
    corpus: Corpus, recipe: IndexRecipe, folder: Path, build: bool, progress: Progress | None
) -> Iterator[tuple[VectorStore, int]]:
    """A folder of files through the product's own pipeline (parse, OCR, chunk, embed), on the
    single-node backends (an embedded store, a SQLite catalog, the local process pool)."""
    from ingest.embed import create_embedder
    from retrieval.stores.edge import EdgeVectorStore

    assert corpus.folder is not None
    settings = Settings(
        home=folder,
        embedder=recipe.embedder,
        chunk_tokens=recipe.chunk_tokens,
        chunk_overlap=recipe.chunk_overlap,
        database_url=None,
        vector_store="edge",
        executor="local",
    )
    settings.home.mkdir(parents=True, exist_ok=True)
    catalog = Catalog.connect(settings.catalog_url)
    store = EdgeVectorStore(settings.qdrant_path, create_embedder(settings.embedder).dimension)
    try:
        if build:
            files = _ingest_files(corpus.folder, settings, catalog, store)
            failed = [
                d.source_name for d in catalog.documents(COLLECTION) if d.status is not DocumentStatus.READY
            ]
            if progress:
                progress(files, files)
            chunks = catalog.chunk_count()
            (folder / "ready.json").write_text(
                json.dumps({"corpus": corpus.name, "chunks": chunks, "failed": failed})
            )
        chunks = int(json.loads((folder / "ready.json").read_text())["chunks"])
        yield store, chunks
    finally:
        store.close()
        catalog.close()


def _ingest_files(source: Path, settings: Settings, catalog: Catalog, store: VectorStore) -> int:
    """Every file below ``source`` through the local pool; returns how many there were."""
    from ingest.blobs import BlobStore
    from ingest.intake import Intake
    from ingest.library import embedding_model, local_pool
    from ingest.pipeline import IndexWriter
    from retrieval.records import sentence_spans

    files = sorted(
        p
        for p in source.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(source).parts)
    )
    jobs = Jobs(catalog.db)
    executor = local_pool(
        settings, IndexWriter(catalog, jobs, store), embedding_model(settings), sentence_spans
    )
    try:
        intake = Intake(settings, catalog, jobs, BlobStore(settings.blob_dir), executor)
        catalog.ensure_collection(COLLECTION)
        for path in files:
            intake.add_path(COLLECTION, path, name=path.relative_to(source).as_posix())
        if not executor.wait(timeout=1800):
            raise IngestFailed(f"ingesting {source} did not finish in 30 minutes")
    finally:
        executor.shutdown()
    return len(files)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)[:40] or "corpus"
