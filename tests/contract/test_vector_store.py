"""One contract for every VectorStore adapter that can run here.

Edge (embedded engine) and the qdrant-client adapter against its local mode always; the
qdrant-client adapter against a real server too when QDRANT_URL is set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.domain import Chunk, Document, DocumentStatus, SentenceVectors
from core.protocols import SearchFilter, SearchRequest, VectorStore
from ingest.embed import HashingEmbedder

EMBEDDER = HashingEmbedder()

ADAPTERS = ["edge", "client-local"] + (["server"] if os.environ.get("QDRANT_URL") else [])


@pytest.fixture(params=ADAPTERS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    from retrieval.stores.edge import EdgeVectorStore
    from retrieval.stores.server import QdrantServerVectorStore

    opened: VectorStore
    if request.param == "edge":
        opened = EdgeVectorStore(tmp_path / "edge", EMBEDDER.dimension)
    elif request.param == "client-local":
        opened = QdrantServerVectorStore(str(tmp_path / "local"), EMBEDDER.dimension)
    else:
        name = f"contract-{uuid.uuid4().hex[:8]}"
        opened = QdrantServerVectorStore(os.environ["QDRANT_URL"], EMBEDDER.dimension, collection=name)
    yield opened
    opened.close()


def _document(doc_id: str, collection: str = "manuals", team: str = "support", **kw: object) -> Document:
    return Document(
        id=doc_id,
        collection=collection,
        source_name=f"{doc_id}.txt",
        media_type=str(kw.get("media_type", "text/plain")),
        sha256=doc_id * 2,
        size=1,
        status=DocumentStatus.READY,
        team=team,
        tags=tuple(kw.get("tags", ())),  # type: ignore[arg-type]
    )


def _index(store: VectorStore, doc: Document, texts: list[str]) -> list[Chunk]:
    chunks = [Chunk(doc.id, i, t, (i + 1,), ("Guide",), 0, len(t)) for i, t in enumerate(texts)]
    store.upsert(doc, chunks, EMBEDDER.embed([c.embedding_text for c in chunks]))
    return chunks


def _search(store: VectorStore, text: str, mode: str = "dense", **filters: object) -> list[str]:
    request = SearchRequest(
        text,
        EMBEDDER.embed([text])[0].tolist(),
        limit=5,
        mode=mode,  # type: ignore[arg-type]
        filter=SearchFilter(**filters),  # type: ignore[arg-type]
    )
    return [p.text for p in store.search(request)]


TEXTS = [
    "Error E-104 means the internal temperature sensor failed.",
    "Refunds are issued within 30 days of the return.",
    "The battery of the remote sensor lasts two years.",
]


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_finds_the_matching_chunk_first(store: VectorStore, mode: str) -> None:
    _index(store, _document("a"), TEXTS)
    assert _search(store, "what does error E-104 mean", mode)[0] == TEXTS[0]


def test_passages_carry_what_a_citation_needs(store: VectorStore) -> None:
    doc = _document("a")
    chunks = _index(store, doc, TEXTS)
    request = SearchRequest("refunds", EMBEDDER.embed(["refunds"])[0].tolist(), limit=1, mode="hybrid")
    [passage] = store.search(request)
    assert passage.chunk_id == chunks[1].id
    assert (passage.document_id, passage.collection, passage.source_name) == ("a", "manuals", "a.txt")
    assert passage.pages == (2,)
    assert passage.section_path == ("Guide",)
    assert (passage.char_start, passage.char_end) == (0, len(TEXTS[1]))


def test_upsert_is_idempotent(store: VectorStore) -> None:
    doc = _document("a")
    _index(store, doc, TEXTS)
    _index(store, doc, TEXTS)
    assert store.count(document_id="a") == len(TEXTS)


def test_delete_document_removes_every_vector(store: VectorStore) -> None:
    _index(store, _document("a"), TEXTS)
    _index(store, _document("b"), TEXTS[:1])
    store.delete_document("a")
    assert store.count(document_id="a") == 0
    assert store.count() == 1
    assert all(p == TEXTS[0] for p in _search(store, "refunds battery error", "hybrid"))


def test_delete_chunks_from_keeps_the_chunks_before_it(store: VectorStore) -> None:
    _index(store, _document("a"), TEXTS)
    _index(store, _document("b"), TEXTS)
    store.delete_chunks_from("a", 1)
    assert store.count(document_id="a") == 1
    assert store.count(document_id="b") == len(TEXTS)
    assert _search(store, "error E-104", document_ids=("a",)) == [TEXTS[0]]
    store.delete_chunks_from("a", 5)
    assert store.count(document_id="a") == 1


def test_warming_reads_every_point_in_this_process_and_changes_no_answer(store: VectorStore) -> None:
    from retrieval.stores.edge import EdgeVectorStore

    _index(store, _document("a"), TEXTS)
    _index(store, _document("b"), [f"Spare part {n} of the thermostat kit." for n in range(2500)])
    assert _search(store, "error E-104", "hybrid")[0] == TEXTS[0]
    # An embedded shard reads its payloads (more than one page of them); a server keeps its own memory.
    assert store.warm() == (len(TEXTS) + 2500 if isinstance(store, EdgeVectorStore) else 0)
    assert _search(store, "error E-104", "hybrid")[0] == TEXTS[0]


def test_counts_by_collection(store: VectorStore) -> None:
    _index(store, _document("a", collection="manuals"), TEXTS)
    _index(store, _document("b", collection="policies"), TEXTS[:2])
    assert store.count(collection="manuals") == 3
    assert store.count(collection="policies") == 2


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_team_filter_is_applied_inside_the_query(store: VectorStore, mode: str) -> None:
    _index(store, _document("a", team="support"), TEXTS)
    _index(store, _document("b", team="legal"), ["Error E-104 legal hold notice."])
    found = _search(store, "error E-104", mode, teams=("legal",))
    assert found == ["Error E-104 legal hold notice."]
    assert _search(store, "error E-104", mode, teams=()) == []


def test_filters_by_collection_document_media_type_and_tag(store: VectorStore) -> None:
    _index(store, _document("a", collection="manuals", tags=("t100",)), TEXTS)
    _index(store, _document("b", collection="policies", media_type="application/pdf"), TEXTS)
    assert len(_search(store, "error", collections=("policies",))) == 3
    assert set(_search(store, "error", document_ids=("a",))) == set(TEXTS)
    assert len(_search(store, "error", media_types=("application/pdf",))) == 3
    assert len(_search(store, "error", tags=("t100",))) == 3
    assert _search(store, "error", tags=("t999",)) == []


def test_a_query_with_no_known_words_finds_nothing_by_bm25(store: VectorStore) -> None:
    _index(store, _document("a"), TEXTS)
    assert _search(store, "zzzqqq", "sparse") == []


def test_filters_by_ingestion_date(store: VectorStore) -> None:
    from dataclasses import replace
    from datetime import UTC, datetime

    old = replace(_document("a"), created_at=datetime(2024, 1, 1, tzinfo=UTC))
    new = replace(_document("b"), created_at=datetime(2026, 6, 1, tzinfo=UTC))
    _index(store, old, TEXTS[:1])
    _index(store, new, ["Error E-104 in the 2026 manual."])
    cutoff = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
    assert _search(store, "error E-104", ingested_after=cutoff) == ["Error E-104 in the 2026 manual."]
    assert _search(store, "error E-104", ingested_before=cutoff) == [TEXTS[0]]


def _with_sentences(store: VectorStore, doc: Document, texts: list[str]) -> list[SentenceVectors]:
    from ingest.pipeline import embed_chunks
    from retrieval.records import sentence_spans

    chunks = [Chunk(doc.id, i, t, (i + 1,), ("Guide",), 0, len(t)) for i, t in enumerate(texts)]
    vectors, sentences = embed_chunks(EMBEDDER, chunks, sentence_spans)
    assert sentences is not None
    store.upsert(doc, chunks, vectors, sentences)
    return list(sentences)


def test_sentence_vectors_and_spans_round_trip(store: VectorStore) -> None:
    text = "The lid is blue. Error E-104 means the sensor failed. Replace it."
    written = _with_sentences(store, _document("s1"), [text])[0]
    question = "what does E-104 mean"
    request = SearchRequest(question, EMBEDDER.embed([question])[0].tolist(), limit=3, mode="hybrid")
    [found] = store.search(request)
    assert found.sentences is not None
    assert found.sentences.spans == written.spans
    assert [text[a:b] for a, b in found.sentences.spans] == [
        "The lid is blue.",
        "Error E-104 means the sensor failed.",
        "Replace it.",
    ]
    assert found.sentences.vectors.shape == (4, EMBEDDER.dimension)  # three sentences, the path line
    assert np.allclose(found.sentences.vectors, written.vectors, atol=1e-3)  # stored as float16
    without = store.search(
        SearchRequest(question, request.vector, limit=3, mode="dense", with_sentences=False)
    )
    assert without[0].sentences is None


def test_a_search_without_sentence_vectors_can_attach_them_to_its_head(store: VectorStore) -> None:
    text = "The lid is blue. Error E-104 means the sensor failed. Replace it."
    written = _with_sentences(store, _document("s1"), [text])[0]
    _index(store, _document("plain"), ["Error E-104 appears in the log."])
    question = "what does E-104 mean"
    vector = EMBEDDER.embed([question])[0].tolist()
    found = store.search(SearchRequest(question, vector, limit=3, mode="hybrid", with_sentences=False))
    assert {p.document_id for p in found} == {"s1", "plain"} and all(p.sentences is None for p in found)
    attached = store.attach_sentences(found)
    assert [p.chunk_id for p in attached] == [p.chunk_id for p in found]  # same passages, same order
    by_doc = {p.document_id: p for p in attached}
    assert by_doc["plain"].sentences is None  # written without them
    got = by_doc["s1"].sentences
    assert got is not None and got.spans == written.spans
    assert np.allclose(got.vectors, written.vectors, atol=1e-3)
    assert store.attach_sentences([]) == []


def test_chunks_written_without_sentence_vectors_come_back_without(store: VectorStore) -> None:
    _index(store, _document("plain"), ["Error E-104 means the sensor failed."])
    found = store.search(SearchRequest("E-104", EMBEDDER.embed(["E-104"])[0].tolist(), limit=3))
    assert found[0].sentences is None


def test_an_edge_shard_made_before_sentence_vectors_still_opens_and_searches(tmp_path: Path) -> None:
    import qdrant_edge as q

    from retrieval.stores import payload as P
    from retrieval.stores.edge import EdgeVectorStore

    path = tmp_path / "old"
    old = q.EdgeShard.create(
        str(path),
        q.EdgeConfig(
            vectors={P.DENSE: q.EdgeVectorParams(size=EMBEDDER.dimension, distance=q.Distance.Cosine)},
            sparse_vectors={P.SPARSE: q.EdgeSparseVectorParams(modifier=q.Modifier.Idf)},
        ),
    )
    old.close()
    store = EdgeVectorStore(path, EMBEDDER.dimension)
    try:
        assert store.sentences is False
        _with_sentences(store, _document("s1"), ["Error E-104 means the sensor failed. Replace it."])
        found = store.search(SearchRequest("E-104", EMBEDDER.embed(["E-104"])[0].tolist(), limit=3))
        assert [p.document_id for p in found] == ["s1"]
        assert found[0].sentences is None
    finally:
        store.close()
    reopened = EdgeVectorStore(path, EMBEDDER.dimension)  # and again: the fallback is not a one-off
    try:
        assert reopened.sentences is False and reopened.count() == 1
    finally:
        reopened.close()


def test_a_server_collection_made_before_sentence_vectors_still_searches(tmp_path: Path) -> None:
    from qdrant_client import QdrantClient, models

    from retrieval.stores import payload as P
    from retrieval.stores.server import QdrantServerVectorStore

    client = QdrantClient(path=str(tmp_path / "local"))
    client.create_collection(
        "sourcebook",
        vectors_config={
            P.DENSE: models.VectorParams(size=EMBEDDER.dimension, distance=models.Distance.COSINE)
        },
        sparse_vectors_config={P.SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
    )
    client.close()
    store = QdrantServerVectorStore(str(tmp_path / "local"), EMBEDDER.dimension)
    try:
        assert store.sentences is False
        _with_sentences(store, _document("s1"), ["Error E-104 means the sensor failed. Replace it."])
        found = store.search(SearchRequest("E-104", EMBEDDER.embed(["E-104"])[0].tolist(), limit=3))
        assert [p.document_id for p in found] == ["s1"]
        assert found[0].sentences is None
    finally:
        store.close()
