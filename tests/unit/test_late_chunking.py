"""Sentence vectors computed at ingest (late chunking), and a question that embeds no sentence."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from core.domain import Chunk, Document, DocumentStatus, Passage, SentenceVectors
from core.protocols import SearchFilter, Vectors
from ingest.embed import HashingEmbedder, MiniLMEmbedder
from ingest.pipeline import embed_chunks
from retrieval.extractive import ExtractiveGenerator
from retrieval.records import sentence_spans
from retrieval.rerank import SentenceReranker
from retrieval.search import Searcher


class Counting(HashingEmbedder):
    """The hashing double, remembering every text it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.texts += list(texts)
        return super().embed(texts)


TEXT = "The lid is blue. Error E-104 means the temperature sensor failed. Replace the sensor."


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_one_pass_gives_todays_chunk_vector_and_pools_each_span_from_its_own_tokens(precision: str) -> None:
    model = MiniLMEmbedder(precision=precision)  # type: ignore[arg-type]
    chunk = Chunk("d", 0, TEXT, (1,), ("Troubleshooting", "Errors"), 0, len(TEXT))
    text = chunk.embedding_text
    shift = len(text) - len(TEXT)
    spans = [(a + shift, b + shift) for a, b in sentence_spans(chunk)]
    whole, [rows] = model.embed_spans([text], [spans])
    assert float(whole[0] @ model.embed([text])[0]) >= 0.9999
    # A span's vector is the normalised mean of the token embeddings whose characters lie in it.
    st = model._model
    encoded = st.tokenizer([text], return_offsets_mapping=True, return_tensors="pt")
    offsets = encoded.pop("offset_mapping")[0].numpy()
    tokens = st.encode([text], output_value="token_embeddings", convert_to_numpy=False)[0].float().numpy()
    for (start, end), row in zip(spans, rows, strict=True):
        inside = (offsets[:, 1] > offsets[:, 0]) & (offsets[:, 0] < end) & (offsets[:, 1] > start)
        assert offsets[inside][0][0] == start and offsets[inside][-1][1] == end  # its first and last tokens
        expected = tokens[inside].mean(axis=0)
        expected /= np.linalg.norm(expected)
        assert float(row @ expected) >= (0.9999 if precision == "float32" else 0.99)
    # The error sentence, pooled in context, is still nearest its own words.
    alone = model.embed(["Error E-104 means the temperature sensor failed."])[0]
    assert int(np.argmax(rows @ alone)) == 1


def test_sentence_spans_cover_the_rerankers_sentences_and_the_composers_table_rows() -> None:
    table = "Code | Meaning\nE-101 | Low battery. Replace it.\nE-104 | Sensor failed."
    chunk = Chunk("d", 0, table, (1,), ("Errors",), table_header=("Code", "Meaning"))
    spans = sentence_spans(chunk)
    assert (table.index("E-104"), len(table)) in spans  # a row whole, as the composer reads it
    assert spans == sorted(set(spans))


def test_embed_chunks_adds_the_section_path_line_and_maps_spans_past_the_heading() -> None:
    chunk = Chunk("d", 0, TEXT, (1,), ("Troubleshooting",), 0, len(TEXT))
    embedder = HashingEmbedder()
    vectors, sentences = embed_chunks(embedder, [chunk], sentence_spans)
    assert sentences is not None
    [own] = sentences
    assert [TEXT[a:b] for a, b in own.spans][1] == "Error E-104 means the temperature sensor failed."
    assert own.vectors.shape == (len(own.spans) + 1, embedder.dimension)
    assert np.allclose(
        own.vectors[1], embedder.embed(["Error E-104 means the temperature sensor failed."])[0]
    )
    assert np.allclose(own.vectors[-1], embedder.embed(["Troubleshooting"])[0])
    assert np.allclose(vectors[0], embedder.embed([chunk.embedding_text])[0])
    assert embed_chunks(embedder, [chunk], None)[1] is None  # no splitter: no sentence vectors


def _passage(text: str, score: float, sentences: SentenceVectors | None) -> Passage:
    return Passage(f"c-{score}", f"d-{score}", "kb", "guide.txt", text, (1,), score, sentences=sentences)


def test_stored_vectors_spare_the_reranker_and_the_composer_any_embedding() -> None:
    chunks = [
        Chunk("a", 0, TEXT, (1,), (), 0, len(TEXT)),
        Chunk("b", 0, "Refunds are paid within seven days. Keep the receipt.", (1,), (), 0, 54),
    ]
    _, sentences = embed_chunks(HashingEmbedder(), chunks, sentence_spans)
    assert sentences is not None
    passages = [
        _passage(c.text, 1.0 - n / 10, s) for n, (c, s) in enumerate(zip(chunks, sentences, strict=True))
    ]
    counting = Counting()
    question = "what does error E-104 mean"
    SentenceReranker(counting).rerank(question, passages, limit=2)
    ExtractiveGenerator(counting).answer(question, passages)
    assert counting.texts == [question, question]  # the question alone, once by each (no cache here)
    # Without them (a collection ingested before), both embed the sentences as they always did.
    counting.texts = []
    bare = [_passage(p.text, p.score, None) for p in passages]
    SentenceReranker(counting).rerank(question, bare, limit=2)
    assert "Error E-104 means the temperature sensor failed." in counting.texts


def test_a_search_and_answer_over_a_collection_ingested_now_embed_only_the_question(tmp_path: Path) -> None:
    from ingest.embed import CachingEmbedder
    from retrieval.stores.edge import EdgeVectorStore

    store = EdgeVectorStore(tmp_path / "edge", 384)
    try:
        texts = [
            TEXT,
            "Refunds are paid within seven business days. Keep the receipt.",
            "The remote's battery lasts two years. Replace it with a CR2032 cell.",
        ]
        document = Document("d", "kb", "guide.txt", "text/plain", "x", 1, DocumentStatus.READY)
        chunks = [Chunk("d", n, t, (1,), ("Guide",), 0, len(t)) for n, t in enumerate(texts)]
        vectors, sentences = embed_chunks(HashingEmbedder(), chunks, sentence_spans)
        store.upsert(document, chunks, vectors, sentences)
        counting = Counting()
        cached = CachingEmbedder(counting)
        searcher = Searcher(store, cached, SentenceReranker(cached), candidates=10)
        question = "what does error E-104 mean"
        query = searcher.embed(question)
        passages = searcher.search(query, SearchFilter(), limit=3, mode="hybrid")
        answer = ExtractiveGenerator(cached).answer(query, passages)
        assert all(p.sentences is not None for p in passages)
        assert counting.texts == [question]
        assert "E-104" in answer.text
    finally:
        store.close()
