"""How many tokens each side of ``bench.ingest_compare`` sends through MiniLM, and what a token costs.

    python -m bench.ingest_tokens [--limit 300] [--time]

Both pipelines spend most of their CPU in the same forward pass, so the work each does is counted
in tokens: the text's own (the abstracts tokenised whole), Sourcebook's (each chunk's embedding
text: 220-token chunks with a 32-token overlap, each led by its document's heading) and
LlamaIndex's (its default ``SentenceSplitter`` nodes, cut to MiniLM's 256-token window as its
HuggingFace embedding does: what lies past it is never embedded). ``--time`` also embeds both
token sets in one process, bfloat16 and float32 alternately, so the per-token cost of each
precision on this CPU is measured side by side. Writes bench/results/ingest-tokens.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.provenance import provenance, write_result

WINDOW = 256  # all-MiniLM-L6-v2's max_seq_length, the two special tokens included


def _sourcebook_texts(files: list[Path], tokenize: Any) -> list[str]:
    """What Sourcebook's pipeline embeds of these files: its parser, its chunker, its settings."""
    from core.settings import Settings
    from ingest.chunk import Chunker
    from ingest.parse.plaintext import parse_text

    settings = Settings()
    chunker = Chunker(tokenize, settings.chunk_tokens, settings.chunk_overlap)
    return [c.embedding_text for f in files for c in chunker.chunk(f.stem, parse_text(f).elements)]


def _llamaindex_texts(texts: list[str]) -> list[str]:
    from llama_index.core import Document
    from llama_index.core.node_parser import SentenceSplitter

    return [node.get_content() for node in SentenceSplitter()([Document(text=t) for t in texts])]


def _cpu_seconds(embed: Any, texts: list[str]) -> float:
    started = time.process_time()
    embed(texts)
    return time.process_time() - started


def main(limit: int, timed: bool) -> None:
    from bench.ingest_compare import corpus_files
    from ingest.embed import MiniLMEmbedder
    from ingest.precision import choose_precision

    started = provenance({})
    with tempfile.TemporaryDirectory(prefix="bench-ingest-tokens-") as scratch:
        files = corpus_files("scifact", limit, Path(scratch))  # the files bench.ingest_compare ingests
        texts = [f.read_text() for f in files]
        ours = _sourcebook_texts(files, MiniLMEmbedder().tokenize)
    model = MiniLMEmbedder()

    def count(text: str) -> int:
        return len(model.tokenize(text)) + 2  # [CLS] and [SEP]

    theirs = _llamaindex_texts(texts)
    whole = [count(t) for t in texts]
    result: dict[str, Any] = {
        "documents": len(texts),
        "text_tokens": sum(whole),
        "documents_longer_than_window": sum(1 for n in whole if n > WINDOW),
        "sourcebook": {"texts": len(ours), "tokens_embedded": sum(min(count(t), WINDOW) for t in ours)},
        "llamaindex": {"texts": len(theirs), "tokens_embedded": sum(min(count(t), WINDOW) for t in theirs)},
    }
    result["text_never_embedded_by_llamaindex"] = round(
        1 - result["llamaindex"]["tokens_embedded"] / result["text_tokens"], 3
    )
    result["tokens_ratio_sourcebook_over_llamaindex"] = round(
        result["sourcebook"]["tokens_embedded"] / result["llamaindex"]["tokens_embedded"], 3
    )
    print({k: v for k, v in result.items()}, flush=True)
    if timed:
        native = choose_precision("auto").dtype
        models = {"float32": MiniLMEmbedder(precision="float32"), native: MiniLMEmbedder(precision=native)}
        for embedder in models.values():
            embedder.embed(["warm up"])
        seconds: dict[str, float] = {}
        for _ in range(2):  # alternately, so a change in the machine's load falls on both
            for dtype, embedder in models.items():
                for side, side_texts in (("sourcebook", ours), ("llamaindex", theirs)):
                    key = f"{side}/{dtype}"
                    seconds[key] = seconds.get(key, 0.0) + _cpu_seconds(embedder.embed, side_texts) / 2
        result["cpu_seconds_to_embed"] = {k: round(v, 2) for k, v in seconds.items()}
        result["native_precision"] = native
        print(result["cpu_seconds_to_embed"], flush=True)
    write_result("ingest-tokens", result, settings={"limit": limit, "timed": timed}, started=started)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=300, help="the first N SciFact abstracts")
    parser.add_argument("--time", action="store_true", help="also time the embedding of both sides")
    args = parser.parse_args()
    main(args.limit, args.time)
