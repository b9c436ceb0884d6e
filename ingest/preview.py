"""Page images for the source viewer: a PDF page or an image, as PNG, with a cited passage's
boxes drawn on it when asked."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import NotFound, Unsupported
from core.layout import Box
from ingest import detect

if TYPE_CHECKING:
    from PIL import Image

# A highlighter's yellow over the words, and a darker outline so it shows on a yellow page too.
_FILL = (255, 214, 0, 96)
_OUTLINE = (214, 120, 0, 255)


def render_page(
    path: Path,
    media_type: str,
    page: int,
    *,
    max_pixels: int,
    dpi: int = 110,
    highlight: Sequence[Box] = (),
) -> bytes:
    """The page as PNG; ``highlight``'s boxes on this page drawn over it."""
    if media_type == detect.PDF:
        image = _pdf_page(path, page, dpi, max_pixels)
    elif media_type in detect.IMAGES:
        image = _image_page(path, page, max_pixels)
    else:
        raise Unsupported("page images exist for PDFs and images only; open the original instead")
    boxes = [box for box in highlight if box.page == page]
    if boxes:
        image = draw_boxes(image, boxes)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=media_type == detect.PDF)
    return out.getvalue()


def draw_boxes(image: Image.Image, boxes: Sequence[Box]) -> Image.Image:
    """``boxes`` (fractions of the page) drawn as translucent marker strokes with an outline."""
    from PIL import Image, ImageDraw

    base = image.convert("RGBA")
    overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    width, height = base.size
    pad = max(1, round(min(width, height) * 0.002))
    for box in boxes:
        rect = (
            box.x0 * width - pad,
            box.y0 * height - pad,
            box.x1 * width + pad,
            box.y1 * height + pad,
        )
        draw.rectangle(rect, fill=_FILL, outline=_OUTLINE, width=max(1, pad))
    return Image.alpha_composite(base, overlay).convert("RGB")


def _pdf_page(path: Path, page: int, dpi: int, max_pixels: int) -> Image.Image:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    try:
        if not 1 <= page <= len(pdf):
            raise NotFound(f"the document has no page {page}")
        handle = pdf[page - 1]
        width, height = handle.get_size()
        scale = dpi / 72
        if width * height * scale * scale > max_pixels:
            scale = (max_pixels / max(width * height, 1.0)) ** 0.5
        bitmap = handle.render(scale=scale)
        image: Image.Image = bitmap.to_pil().copy()  # the bitmap's buffer goes when it closes
        bitmap.close()
        handle.close()
        return image
    finally:
        pdf.close()


def _image_page(path: Path, page: int, max_pixels: int) -> Image.Image:
    from PIL import ImageSequence

    from ingest.parse.images import open_image_safely

    image = open_image_safely(path, max_pixels)
    for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
        if number == page:
            return frame.convert("RGB")
    raise NotFound(f"the document has no page {page}")
