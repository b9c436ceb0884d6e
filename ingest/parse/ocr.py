"""Tesseract OCR with orientation correction; text comes back as paragraphs."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from PIL import Image

from core.errors import IngestFailed

# OpenMP inside Tesseract fights the other worker for the 2 cores and runs ~2x slower.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

_LOW_CONFIDENCE = 60.0
_MIN_WORDS = 5


@dataclass(frozen=True, slots=True)
class OcrResult:
    paragraphs: tuple[str, ...]
    confidence: float
    rotation: int


def ocr_image(image: Image.Image, languages: str = "eng") -> OcrResult:
    """OCR ``image``; if the text looks unreadable, ask Tesseract's OSD how the page is turned."""
    image = _prepare(image)
    first = _recognise(image, languages, rotation=0)
    if first.confidence >= _LOW_CONFIDENCE and sum(len(p.split()) for p in first.paragraphs) >= _MIN_WORDS:
        return first
    rotation = _detect_rotation(image)
    if rotation == 0:
        return first
    turned = _recognise(image.rotate(-rotation, expand=True), languages, rotation=rotation)
    return turned if turned.confidence > first.confidence else first


def _prepare(image: Image.Image) -> Image.Image:
    if image.mode not in {"L", "RGB"}:
        image = image.convert("RGB")
    return image


def _recognise(image: Image.Image, languages: str, rotation: int) -> OcrResult:
    import pytesseract

    try:
        data = pytesseract.image_to_data(image, lang=languages, output_type=pytesseract.Output.DICT)
    except pytesseract.TesseractNotFoundError as exc:
        raise IngestFailed("OCR is not available: Tesseract is not installed") from exc
    except pytesseract.TesseractError as exc:
        raise IngestFailed(f"OCR failed: {exc.message.strip()[:200]}") from exc
    lines: dict[tuple[int, int, int], list[str]] = {}
    confidences: list[float] = []
    for i, word in enumerate(data["text"]):
        word = word.strip()
        if not word:
            continue
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        lines.setdefault(key, []).append(word)
        conf = float(data["conf"][i])
        if conf >= 0:
            confidences.append(conf)
    paragraphs: dict[tuple[int, int], list[str]] = {}
    for (block, par, _line), words in lines.items():
        paragraphs.setdefault((block, par), []).append(" ".join(words))
    texts = tuple(_join_wrapped(ls) for ls in paragraphs.values())
    mean = sum(confidences) / len(confidences) if confidences else 0.0
    return OcrResult(texts, mean, rotation)


_LIST_MARK = re.compile(r"^([•●▪◦\-–*]|\d{1,2}[.)])\s")
_OPEN_END = re.compile(r"([,;(/&>+\-–]|\b(a|an|and|or|the|of|to|in|on|for|with|by|at|from))$", re.IGNORECASE)


def _join_wrapped(lines: list[str]) -> str:
    """A paragraph's lines: a hard wrap (the next line goes on in lower case or a bracket, or this one stops
    at a comma or a preposition) becomes a space; any other break (a heading above its text, a
    list item) stays a line break."""
    text = lines[0]
    for line in lines[1:]:
        goes_on = line[:1].islower() or line[:1] == "(" or bool(_OPEN_END.search(text))
        wrapped = goes_on and not _LIST_MARK.match(line)
        if wrapped and text.endswith("-") and line[:1].islower() and text[-2:-1].islower():
            text = text[:-1] + line  # a word hyphenated across lines
        else:
            text += (" " if wrapped else "\n") + line
    return text


def _detect_rotation(image: Image.Image) -> int:
    import pytesseract

    try:
        osd = pytesseract.image_to_osd(image, output_type=pytesseract.Output.DICT)
    except pytesseract.TesseractError:
        return 0  # too little text to tell: keep the page as it is
    return int(osd.get("rotate", 0)) % 360
