"""Structure-aware chunking: heading paths, token budgets, exact offsets, pages, tables."""

from __future__ import annotations

import itertools
import uuid

from core.domain import Chunk, Element, ElementKind, chunk_id
from ingest.chunk import Chunker, document_text
from ingest.embed import HashingEmbedder

TOKENIZE = HashingEmbedder().tokenize
MAX_TOKENS = 64
OVERLAP = 16


def chunker(max_tokens: int = MAX_TOKENS, overlap: int = OVERLAP) -> Chunker:
    return Chunker(TOKENIZE, max_tokens, overlap)


def title(text: str, level: int = 0, page: int = 1) -> Element:
    return Element(ElementKind.TITLE, text, page, level=level)


def para(text: str, page: int = 1) -> Element:
    return Element(ElementKind.TEXT, text, page)


def long_text(sentences: int, start: int = 0) -> str:
    """Short, distinct sentences: about six tokens each."""
    return " ".join(f"Step {i} checks the wiring of relay {i}." for i in range(start, start + sentences))


def assert_offsets_exact(chunks: list[Chunk], elements: list[Element]) -> None:
    text = document_text(elements)
    for c in chunks:
        assert c.text == text[c.char_start : c.char_end], c


def test_heading_path_follows_title_levels() -> None:
    elements = [
        title("Manual"),
        para("Intro text for everyone."),
        title("Installation", level=1),
        para("Mount the plate on the wall."),
        title("Wiring", level=2),
        para("Connect the C wire first."),
        title("Safety", level=1),
        para("Switch the breaker off."),
        title("Appendix"),
        para("Glossary of terms."),
    ]
    chunks = chunker().chunk("doc", elements)
    paths = {c.text: c.section_path for c in chunks}
    assert paths == {
        "Intro text for everyone.": ("Manual",),
        "Mount the plate on the wall.": ("Manual", "Installation"),
        "Connect the C wire first.": ("Manual", "Installation", "Wiring"),
        "Switch the breaker off.": ("Manual", "Safety"),  # a level-1 replaces the level-1 and its child
        "Glossary of terms.": ("Appendix",),  # a new level-0 resets the path
    }
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert_offsets_exact(chunks, elements)


def test_heading_text_in_the_path_is_normalised_and_bounded() -> None:
    elements = [title("  Spread\n over   lines  " + "x" * 300), para("Body.")]
    (chunk,) = chunker().chunk("doc", elements)
    (heading,) = chunk.section_path
    assert heading.startswith("Spread over lines x")
    assert len(heading) == 120


def test_no_chunk_exceeds_the_token_budget_including_its_heading_path() -> None:
    elements = [
        title("Northwind thermostat installation manual"),
        title("Wiring the heat pump and the auxiliary heat stage", level=1),
        para(long_text(150)),
    ]
    chunks = chunker().chunk("doc", elements)
    assert len(chunks) > 5
    for c in chunks:
        assert c.section_path == (
            "Northwind thermostat installation manual",
            "Wiring the heat pump and the auxiliary heat stage",
        )
        assert len(TOKENIZE(c.embedding_text)) <= MAX_TOKENS, c
    assert_offsets_exact(chunks, elements)


def test_consecutive_chunks_of_a_long_section_overlap() -> None:
    elements = [title("Guide"), para(long_text(120))]
    chunks = chunker().chunk("doc", elements)
    assert len(chunks) > 3
    for previous, current in itertools.pairwise(chunks):
        assert previous.char_start < current.char_start
        assert current.char_start < previous.char_end, (previous, current)
    # Together the chunks cover the whole section, start to end.
    text = document_text(elements)
    assert chunks[0].char_start == text.index("Step 0 ")
    assert chunks[-1].char_end == len(text)
    assert_offsets_exact(chunks, elements)


def test_every_chunk_text_is_the_document_text_at_its_offsets() -> None:
    elements = [
        title("Policy"),
        para(long_text(40)),
        Element(ElementKind.LIST, "• Keep the receipt.", 1),
        title("Returns", level=1, page=2),
        para(long_text(40, start=100), page=2),
        Element(ElementKind.TABLE, "Tier | Response\nBasic | 48 hours\nPro | 1 hour", 3),
        Element(ElementKind.OCR, "Scanned note: part WB-300R.", 4),
    ]
    chunks = chunker().chunk("doc", elements)
    assert_offsets_exact(chunks, elements)
    assert {c.document_id for c in chunks} == {"doc"}
    assert any("WB-300R" in c.text and c.pages == (4,) for c in chunks)


def test_a_chunk_spanning_two_pages_lists_both() -> None:
    elements = [title("Notes"), para("The end of page one.", page=1), para("The start of page two.", page=2)]
    (chunk,) = chunker().chunk("doc", elements)
    assert chunk.pages == (1, 2)
    assert chunk.text == "The end of page one.\n\nThe start of page two."


def test_pages_follow_the_elements_a_split_chunk_covers() -> None:
    elements = [title("Manual"), para(long_text(30), page=1), para(long_text(30, start=30), page=2)]
    chunks = chunker().chunk("doc", elements)
    text = document_text(elements)
    page_two_starts = text.index("Step 30 ")
    for c in chunks:
        expected = tuple(
            sorted(
                ({1} if c.char_start < page_two_starts - 2 else set())
                | ({2} if c.char_end > page_two_starts else set())
            )
        )
        assert c.pages == expected, c
    assert {p for c in chunks for p in c.pages} == {1, 2}
    assert any(c.pages == (1, 2) for c in chunks)


def test_a_table_that_fits_stays_one_table_chunk() -> None:
    table = "Code | Meaning\nE-101 | No power on R\nE-104 | Internal temperature sensor fault"
    elements = [
        title("Error codes"),
        para("The codes below show on the display."),
        Element(ElementKind.TABLE, table, 2),
    ]
    chunks = chunker().chunk("doc", elements)
    assert [c.kind for c in chunks] == [ElementKind.TEXT, ElementKind.TABLE]
    assert chunks[1].text == table
    assert chunks[1].pages == (2,)
    assert chunks[1].section_path == ("Error codes",)


def test_an_oversized_table_splits_by_whole_rows() -> None:
    rows = ["Code | Meaning | Action"] + [
        f"E-{100 + i} | fault number {i} in the sensor | replace part {i}" for i in range(40)
    ]
    elements = [title("Errors"), Element(ElementKind.TABLE, "\n".join(rows), 1)]
    chunks = chunker().chunk("doc", elements)
    assert len(chunks) > 1
    assert all(c.kind is ElementKind.TABLE for c in chunks)
    seen: list[str] = []
    for c in chunks:
        assert len(TOKENIZE(c.embedding_text)) <= MAX_TOKENS
        lines = c.text.split("\n")
        assert all(line in rows for line in lines), c.text  # no row cut in half
        seen.extend(lines)
    assert seen == rows  # every row once, in order
    assert_offsets_exact(chunks, elements)


def test_a_document_of_titles_only_still_yields_chunks() -> None:
    elements = [title("Firmware 4.2"), title("Release notes", level=1, page=2)]
    chunks = chunker().chunk("doc", elements)
    assert chunks
    assert "Firmware 4.2" in " ".join(c.text for c in chunks)
    assert "Release notes" in " ".join(c.text for c in chunks)
    assert {p for c in chunks for p in c.pages} == {1, 2}
    assert_offsets_exact(chunks, elements)


def test_blank_elements_yield_no_chunks() -> None:
    assert chunker().chunk("doc", [para("   "), para("\n")]) == []
    assert chunker().chunk("doc", []) == []


def test_chunk_ids_are_deterministic_uuid5() -> None:
    elements = [title("Guide"), para(long_text(60))]
    first = chunker().chunk("doc-1", elements)
    second = chunker().chunk("doc-1", elements)
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)
    for c in first:
        parsed = uuid.UUID(c.id)
        assert parsed.version == 5
        assert c.id == chunk_id("doc-1", c.index)
        assert c.id == str(uuid.uuid5(uuid.NAMESPACE_URL, f"sourcebook:doc-1:{c.index}"))
    other = chunker().chunk("doc-2", elements)
    assert {c.id for c in other}.isdisjoint(c.id for c in first)


def test_embedding_text_prefixes_the_heading_path() -> None:
    elements = [title("Manual"), title("Reset", level=1), para("Hold the dial for 10 seconds.")]
    (chunk,) = chunker().chunk("doc", elements)
    assert chunk.embedding_text == "Manual > Reset\n\nHold the dial for 10 seconds."
    (bare,) = chunker().chunk("doc", [para("No heading here.")])
    assert bare.embedding_text == "No heading here."


def test_offsets_cover_a_section_of_repeated_sentences() -> None:
    elements = [title("Checklist"), para("Check the fuse. " * 120)]
    chunks = chunker().chunk("doc", elements)
    text = document_text(elements)
    assert len(chunks) > 2
    assert_offsets_exact(chunks, elements)
    for previous, current in itertools.pairwise(chunks):
        assert previous.char_start < current.char_start  # offsets advance
        assert current.char_start <= previous.char_end  # and leave no gap
    assert chunks[-1].char_end == len(text.rstrip())


def test_every_piece_of_a_split_table_carries_the_header_row() -> None:
    header = ("Code", "Meaning", "Action")
    rows = [" | ".join(header)] + [
        f"E-{i:03} | Fault number {i} of the relay | Replace relay {i}" for i in range(40)
    ]
    elements = [title("Error codes"), Element(ElementKind.TABLE, "\n".join(rows), 2, table_header=header)]
    chunks = chunker().chunk("doc", elements)
    assert len(chunks) > 2
    assert_offsets_exact(chunks, elements)  # the text stays the document's own slice...
    for c in chunks:
        assert c.table_header == header  # ...and the header travels as metadata
        assert c.embedding_text.startswith("Error codes\n\nCode | Meaning | Action\n")
        assert len(TOKENIZE(c.embedding_text)) <= MAX_TOKENS
    assert not chunks[1].text.startswith("Code")


def test_text_chunks_have_no_table_header() -> None:
    chunks = chunker().chunk("doc", [title("Intro"), para("Plain prose here.")])
    assert [c.table_header for c in chunks] == [()]


def test_the_table_header_travels_through_the_vector_payload_to_the_passage() -> None:
    from core.domain import Document, DocumentStatus
    from retrieval.stores import payload

    document = Document("d1", "acme", "codes.xlsx", "x", "0" * 64, 10, DocumentStatus.READY)
    chunk = Chunk("d1", 3, "E-101 | No power", (2,), kind=ElementKind.TABLE, table_header=("Code", "Meaning"))
    passage = payload.passage(chunk.id, 0.5, payload.chunk_payload(document, chunk))
    assert passage.table_header == ("Code", "Meaning")
    assert (
        payload.passage(
            chunk.id, 0.5, {**payload.chunk_payload(document, chunk)} | {"table_header": []}
        ).table_header
        == ()
    )


def test_after_the_warm_up_chunking_imports_nothing() -> None:
    """The ingest pool's fork server runs ``warm_up`` once and its workers share what it loaded:
    whatever a worker's first document still imports (nltk's sentence tokenizer took 1.6 s) is
    paid again by every worker, and copied into each one's memory."""
    import subprocess
    import sys

    script = """
import sys
from ingest.pipeline import warm_up
from ingest.chunk import Chunker
from ingest.embed import HashingEmbedder
from core.domain import Element, ElementKind

warm_up()
before = set(sys.modules)
text = " ".join(f"Sentence number {n} of a paragraph far longer than one chunk." for n in range(200))
Chunker(HashingEmbedder().tokenize, 64, 16).chunk("d", [Element(ElementKind.TEXT, text, 1)])
print(sorted(set(sys.modules) - before))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
