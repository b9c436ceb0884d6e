"""Can ingestion embed sentences only? Dense nDCG@10 on SciFact dev for chunk vectors made four ways.

    python -m bench.sentence_vectors [--others 1500] [--int8]

* ``chunk``: the abstract embedded whole (title as heading), as the product indexes it today;
* ``sentence-mean``: the normalised mean of its sentences' vectors (title embedded as one more
  sentence), so ingestion would embed each token once, in short sequences;
* ``sentence-maxsim``: the best cosine of any of its sentences (what a Qdrant multivector with
  MaxSim would rank by);
* ``chunk-int8`` (with --int8): the whole abstract through ``torch.ao.quantization.quantize_dynamic``
  on the Linear layers.

The corpus is every abstract relevant to a dev query plus the first ``--others`` others (the full
5,183 take about an hour per variant on this shared 2-core machine); all variants rank the same
corpus, so their differences are paired. Queries are embedded by the float32 model. Writes
bench/results/sentence-vectors.json with the commit, the settings and the CPU flags.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

import numpy as np

from bench.ingest_compare import DATA, load_dev, ndcg_at_10
from bench.provenance import write_result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--others", type=int, default=1500, help="abstracts besides the relevant ones")
    parser.add_argument("--int8", action="store_true", help="also the dynamically quantized model")
    args = parser.parse_args()
    corpus_path = DATA / "beir-scifact" / "corpus.jsonl"
    if not corpus_path.exists():
        print(f"skipped: {corpus_path} is not on this machine")
        return 0
    from core.domain import Chunk
    from ingest.embed import MiniLMEmbedder
    from retrieval.sentences import split_sentences

    queries, qrels = load_dev()
    relevant = {doc for rel in qrels.values() for doc in rel}
    docs = []
    others = 0
    for line in corpus_path.open():
        doc = json.loads(line)
        if doc["_id"] in relevant:
            docs.append(doc)
        elif others < args.others:
            docs.append(doc)
            others += 1
    ids = [d["_id"] for d in docs]
    model = MiniLMEmbedder(batch_size=64)
    chunk_texts = [
        Chunk(d["_id"], 0, d["text"], (1,), (d["title"],), 0, len(d["text"])).embedding_text for d in docs
    ]
    sentences: list[str] = []
    owner: list[int] = []
    for n, d in enumerate(docs):
        parts = [d["title"], *(s.text for s in split_sentences(d["text"]))]
        sentences.extend(parts)
        owner.extend([n] * len(parts))
    timings: dict[str, float] = {}
    started = time.perf_counter()
    q = model.embed([queries[k] for k in queries])
    timings["queries_s"] = time.perf_counter() - started

    def timed(name: str, texts: list[str], embedder: Any) -> np.ndarray:
        t = time.perf_counter()
        vectors = np.asarray(embedder.embed(texts))
        timings[f"{name}_s"] = round(time.perf_counter() - t, 2)
        print(f"{name}: {len(texts)} texts in {timings[f'{name}_s']} s", flush=True)
        return vectors

    chunk = timed("chunk", chunk_texts, model)
    sent = timed("sentences", sentences, model)
    owners = np.asarray(owner)
    mean = np.zeros_like(chunk)
    np.add.at(mean, owners, sent)
    mean /= np.linalg.norm(mean, axis=1, keepdims=True)
    variants: dict[str, np.ndarray] = {"chunk": q @ chunk.T, "sentence-mean": q @ mean.T}
    cos = q @ sent.T
    maxsim = np.full((len(q), len(docs)), -1.0, dtype=np.float32)
    np.maximum.at(maxsim.T, owners, cos.T)
    variants["sentence-maxsim"] = maxsim
    agreement = float(np.mean(np.sum(chunk * mean, axis=1)))
    if args.int8:
        import torch

        quant = MiniLMEmbedder(batch_size=64)
        quant._model  # noqa: B018 - load it, then quantize its Linear layers in place
        quant.__dict__["_model"] = torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
            quant._model, {torch.nn.Linear}, dtype=torch.qint8
        )
        variants["chunk-int8"] = q @ timed("chunk_int8", chunk_texts, quant).T
    qids = list(queries)
    report: dict[str, Any] = {}
    for name, scores in variants.items():
        per_query = []
        for row, qid in enumerate(qids):
            top = np.argsort(-scores[row], kind="stable")[:10]
            per_query.append(ndcg_at_10([ids[i] for i in top], qrels[qid]))
        report[name] = {"ndcg@10": round(sum(per_query) / len(per_query), 4), "per_query": per_query}
        print(f"{name:18} nDCG@10 {report[name]['ndcg@10']:.4f}")
    base = np.asarray(report["chunk"]["per_query"])
    for name in report:
        delta = np.asarray(report[name]["per_query"]) - base
        rng = np.random.default_rng(0)
        boots = [float(np.mean(rng.choice(delta, len(delta)))) for _ in range(2000)]
        report[name]["delta_vs_chunk"] = round(float(delta.mean()), 4)
        report[name]["delta_95ci"] = [round(float(np.percentile(boots, p)), 4) for p in (2.5, 97.5)]
    summary = {
        "about": "dense nDCG@10 on SciFact dev (50 queries) over the relevant abstracts plus others",
        "corpus_docs": len(docs),
        "sentences": len(sentences),
        "queries": len(qids),
        "mean_cosine_chunk_to_sentence_mean": round(agreement, 4),
        "timings": timings,
        "variants": {k: {kk: vv for kk, vv in v.items() if kk != "per_query"} for k, v in report.items()},
    }
    settings = {"others": args.others, "int8": args.int8, "model": "all-MiniLM-L6-v2", "torch_threads": 1}
    write_result("sentence-vectors", summary, settings=settings)
    print(json.dumps(summary["variants"], indent=2))
    print(f"mean cosine chunk vs sentence mean: {agreement:.4f}")
    return 0 if math.isfinite(agreement) else 1


if __name__ == "__main__":
    sys.exit(main())
