"""Images (PNG, JPEG, TIFF, ...): every frame OCR'd as one page."""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, ImageSequence, UnidentifiedImageError

from core.domain import Element
from core.errors import IngestFailed, TooLarge
from ingest.parse import ParsedDocument, ParseLimits
from ingest.parse.ocr import ocr_image


def open_image_safely(path: Path, max_pixels: int) -> Image.Image:
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            image.size  # noqa: B018 - the header check happens on open; size forces it
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooLarge("image too large to decode safely") from exc
    except UnidentifiedImageError as exc:
        raise IngestFailed("image is corrupt or in an unreadable format") from exc
    if image.width * image.height > max_pixels:
        raise TooLarge("image too large to decode safely")
    return image


def parse_image(path: Path, limits: ParseLimits) -> ParsedDocument:
    image = open_image_safely(path, limits.max_image_pixels)
    elements: list[Element] = []
    pages = 0
    try:
        for page, frame in enumerate(ImageSequence.Iterator(image), start=1):
            if page > limits.max_pages:
                raise TooLarge(f"image has more than {limits.max_pages} frames")
            pages = page
            result = ocr_image(frame.copy(), limits.ocr_languages)
            elements.extend(result.elements(page))
    except OSError as exc:
        raise IngestFailed("image is truncated or corrupt") from exc
    return ParsedDocument(tuple(elements), pages, ocr_pages=tuple(range(1, pages + 1)))
