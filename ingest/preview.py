"""Page images for the source viewer: a PDF page or an image, as PNG."""

from __future__ import annotations

import io
from pathlib import Path

from core.errors import NotFound, Unsupported
from ingest import detect


def render_page(path: Path, media_type: str, page: int, *, max_pixels: int, dpi: int = 110) -> bytes:
    if media_type == detect.PDF:
        return _pdf_page(path, page, dpi, max_pixels)
    if media_type in detect.IMAGES:
        return _image_page(path, page, max_pixels)
    raise Unsupported("page images exist for PDFs and images only; open the original instead")


def _pdf_page(path: Path, page: int, dpi: int, max_pixels: int) -> bytes:
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
        out = io.BytesIO()
        bitmap.to_pil().save(out, format="PNG", optimize=True)
        bitmap.close()
        handle.close()
        return out.getvalue()
    finally:
        pdf.close()


def _image_page(path: Path, page: int, max_pixels: int) -> bytes:
    from PIL import ImageSequence

    from ingest.parse.images import open_image_safely

    image = open_image_safely(path, max_pixels)
    for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
        if number == page:
            out = io.BytesIO()
            frame.convert("RGB").save(out, format="PNG")
            return out.getvalue()
    raise NotFound(f"the document has no page {page}")
