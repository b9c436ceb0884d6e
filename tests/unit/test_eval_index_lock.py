"""Two evaluations of one cached index take turns instead of breaking each other's build."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from eval.datasets import Corpus, CorpusDoc
from eval.index import IndexRecipe, open_index
from ingest.embed import HashingEmbedder

CORPUS = Corpus(
    "tiny",
    "f" * 64,
    docs=(
        CorpusDoc("a", "Printers", "Reset the printer by holding the power key."),
        CorpusDoc("b", "", "Wi-Fi."),
    ),
)


def test_a_second_evaluation_of_the_same_index_waits_for_the_first(tmp_path: Path) -> None:
    recipe = IndexRecipe(embedder="hashing")
    opened = threading.Event()
    spans: dict[str, tuple[float, float]] = {}

    def first() -> None:
        with open_index(CORPUS, recipe, HashingEmbedder(), cache=tmp_path) as index:
            began = time.monotonic()
            opened.set()
            time.sleep(0.5)  # building or querying, as long as it takes
            assert index.store.count() == 2
            spans["first"] = (began, time.monotonic())

    thread = threading.Thread(target=first)
    thread.start()
    assert opened.wait(30)
    with open_index(CORPUS, recipe, HashingEmbedder(), cache=tmp_path) as index:
        spans["second"] = (time.monotonic(), time.monotonic())
        assert not index.built and index.store.count() == 2  # the first one's build, intact
    thread.join()
    assert spans["second"][0] >= spans["first"][1]
