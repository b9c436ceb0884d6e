"""The sentencizer read around its stops gives spaCy's sentence starts, exactly, for less."""

from __future__ import annotations

import random

import pytest

from bench.ingest_compare import DATA
from bench.sentence_split import ADVERSARIAL, reference_starts, scifact_abstracts
from retrieval import sentences, sentencizer
from retrieval.sentencizer import sentence_starts

spacy_starts = reference_starts()

# Words that make spaCy's tokenizer take each of its paths: affixes, infixes, URLs, special cases
# (abbreviations, emoticons that join pieces across a space), runs of whitespace.
_AWKWARD = (
    'a Ab e.g. approx. 3.5 4.2.1 end.Next . ! ? ... … 。 ?! " \' ) ( [1] [2][3] ” ’ » .) ." Dr. U.S. '
    "x.Y - — : ; p<.05 1. a) www.x.com a.b@c.d ¿ ¡ , C++ :) 's n't Mr. 5p.m. ’s o x D _ < > ° = * 8 "
    "(╯°□°）╯︵┻━┻ ^_^ Jan s e O cells. (n=10);U."
)
_WORDS = [*_AWKWARD.split(" "), "  ", "\t", "\u00a0", "\u3000", "\u2028"]


@pytest.mark.parametrize("text", ADVERSARIAL)
def test_starts_are_spacys_on_texts_that_trip_splitters(text: str) -> None:
    assert sentence_starts(text) == spacy_starts(text)


def test_starts_are_spacys_on_random_runs_of_awkward_words() -> None:
    rng = random.Random(15)
    for _ in range(3000):
        words = rng.choices(_WORDS, k=rng.randint(1, 14))
        text = "".join(w + rng.choice(["", " ", " ", "  "]) for w in words)
        assert sentence_starts(text) == spacy_starts(text), text


def test_pieces_are_cut_as_spacys_tokenizer_cuts_them() -> None:
    pipe = sentencizer._nlp()
    words = {w for w in _WORDS if not w.isspace()}
    pieces = {p for text in ADVERSARIAL for p in text.split()} | words | {"cells.", "RNAi).", "(p<0.001)."}
    ported = 0
    for piece in sorted(pieces):
        cut = sentencizer._segment_tokens(pipe, piece)
        if cut is not None:
            ported += 1
            assert cut == [t.text for t in pipe.nlp.tokenizer(piece)], piece
    assert ported > len(pieces) / 2  # most go without spaCy's tokenizer


def test_split_sentences_keeps_its_spans() -> None:
    text = " ".join(ADVERSARIAL)
    new = sentences._split.__wrapped__(text)
    original, sentences.sentence_starts = sentences.sentence_starts, spacy_starts
    try:
        assert sentences._split.__wrapped__(text) == new
    finally:
        sentences.sentence_starts = original


def test_novel_words_do_not_grow_spacys_vocabulary() -> None:
    strings = sentencizer._nlp().nlp.vocab.strings
    sentence_starts("Warm up. It loads.")
    before = len(strings)
    for n in range(200):
        sentence_starts(f"The zorblat{n} rose. Then qwfen{n}x fell (p{n}.) [Ref{n}]. Done{n}!")
    assert len(strings) == before


@pytest.mark.skipif(
    not (DATA / "beir-scifact" / "corpus.jsonl").exists(),
    reason=f"{DATA}/beir-scifact is not on this machine",
)
def test_starts_are_spacys_on_scifact_abstracts() -> None:
    abstracts = scifact_abstracts()
    for text in random.Random(5).sample(abstracts, 300):
        line = text.replace("\n", " ")
        assert sentence_starts(line) == spacy_starts(line)
