"""Build the sample support knowledge base in samples/acme-support/.

Run from the repository root:  .venv/bin/python samples/build_samples.py

Generates the binary documents (PDF, DOCX, PPTX, XLSX, PNG) from the texts in
samples/_content.py, plus samples/QUESTIONS.md and samples/questions.jsonl.
The text documents (.md, .txt, .html, .eml) are hand-written and kept as is.
No network and no unseeded randomness: running it twice gives the same bytes
(given the same library versions and fonts).
"""

from __future__ import annotations

import io
import json
import random
import re
import sys
import zipfile
from datetime import datetime
from pathlib import Path

import reportlab
from docx import Document
from openpyxl import Workbook
from openpyxl.styles import Font
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from pptx import Presentation
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Frame,
    ListFlowable,
    ListItem,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Table,
    TableStyle,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _content as C

HERE = Path(__file__).resolve().parent
OUT = HERE / "acme-support"
FIXED_DATE = datetime(2024, 8, 1, 9, 0, 0)
FIXED_ISO = "2024-08-01T09:00:00Z"
DPI = 200
A4_PX = (1654, 2339)  # A4 at 200 dpi
rl_config.useA85 = 0  # store PDF streams as raw binary (about 20% smaller than ASCII85)


# --- fonts ----------------------------------------------------------------


def _font_path(bold: bool) -> str:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for cand in (Path("/usr/share/fonts/truetype/dejavu") / name, Path("/usr/share/fonts/dejavu") / name):
        if cand.exists():
            return str(cand)

    # fallback: Bitstream Vera ships with reportlab
    return str(Path(reportlab.__file__).parent / "fonts" / ("VeraBd.ttf" if bold else "Vera.ttf"))


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(_font_path(bold), size)


# --- image rendering (scanned pages and the quick card) -------------------


def wrap(draw: ImageDraw.ImageDraw, text: str, fnt, width: int) -> list[str]:
    lines, cur = [], ""
    for word in text.split():
        trial = f"{cur} {word}".strip()
        if draw.textlength(trial, font=fnt) <= width or not cur:
            cur = trial
        else:
            lines.append(cur)
            cur = word
    return lines + ([cur] if cur else [])


def render_scan(blocks, seed: int) -> Image.Image:
    """Render (kind, text) blocks as a slightly noisy, slightly skewed A4 scan."""
    img = Image.new("L", A4_PX, 255)
    d = ImageDraw.Draw(img)
    margin, y = 170, 170
    width = A4_PX[0] - 2 * margin
    styles = {
        "title": (font(46, True), 24),
        "h": (font(34, True), 14),
        "p": (font(31), 16),
        "small": (font(26), 10),
    }
    for kind, text in blocks:
        if kind == "gap":
            y += 30
            continue
        if kind == "signature":  # a deterministic hand-drawn-looking scribble
            pts = [
                (margin + 10 + i * 6, y + 45 + int(22 * ((i * 37) % 11 - 5) / 5 * (1 if i % 3 else -0.6)))
                for i in range(45)
            ]
            d.line(pts, fill=30, width=4, joint="curve")
            y += 110
            continue
        fnt, after = styles[kind]
        for line in wrap(d, text, fnt, width):
            d.text((margin, y), line, font=fnt, fill=20)
            y += int(fnt.size * 1.35)
        y += after
    img = img.rotate(0.4, resample=Image.BICUBIC, fillcolor=255)
    img = img.filter(ImageFilter.GaussianBlur(0.6))
    rng = random.Random(seed)
    px = img.load()
    for _ in range(2500):  # dust and speckles
        x, yy = rng.randrange(A4_PX[0]), rng.randrange(A4_PX[1])
        px[x, yy] = rng.randrange(60, 200)
    return img.point(lambda v: max(0, min(255, int(v * 0.96 + 6))))  # greyish paper


def scan_to_jpeg(img: Image.Image) -> io.BytesIO:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70, dpi=(DPI, DPI))
    buf.seek(0)
    return buf


def build_card(path: Path) -> None:
    w, h = 1400, 900
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, w, 150], fill=(20, 70, 130))
    d.text((50, 28), C.CARD_TITLE, font=font(52, True), fill=(255, 255, 255))
    d.text((50, 95), C.COMPANY, font=font(30), fill=(210, 225, 245))
    d.text((50, 185), C.CARD_SUBTITLE, font=font(42, True), fill=(20, 20, 20))
    y, n = 270, 0
    for step in C.CARD_STEPS:
        indent = step.startswith("(")
        if not indent:
            n += 1
        prefix = "" if indent else f"{n}. "
        d.text((110 if indent else 60, y), prefix + step, font=font(33), fill=(30, 30, 30))
        y += 62
    d.rectangle([40, h - 130, w - 40, h - 40], outline=(20, 70, 130), width=4)
    d.text((70, h - 108), C.CARD_FOOTER, font=font(33, True), fill=(20, 70, 130))
    img.save(path, "PNG", optimize=True)


# --- PDFs (reportlab) -------------------------------------------------------


def _styles():
    ss = getSampleStyleSheet()
    return {
        "title": ss["Title"],
        "h1": ss["Heading1"],
        "h2": ss["Heading2"],
        "p": ParagraphStyle("body", parent=ss["BodyText"], fontSize=10.5, leading=14, spaceAfter=6),
    }


def flowables(blocks):
    st, out = _styles(), []
    for kind, val in blocks:
        if kind in ("bullets", "steps"):
            items = [ListItem(Paragraph(_esc(t), st["p"])) for t in val]
            out.append(
                ListFlowable(
                    items,
                    bulletType="bullet" if kind == "bullets" else "1",
                    start="\u2022" if kind == "bullets" else None,
                    bulletFormat=None if kind == "bullets" else "%s.",
                )
            )
        elif kind == "table":
            cells = [[Paragraph(_esc(c), st["p"]) for c in row] for row in val]
            t = Table(cells, colWidths=[22 * mm, 38 * mm, 42 * mm, 36 * mm, 22 * mm])
            t.setStyle(
                TableStyle(
                    [
                        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6f0")),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ]
                )
            )
            out.append(t)
        else:
            out.append(Paragraph(_esc(val), st[kind]))
    return out


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _footer(label: str):
    def draw(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(56, 30, f"{C.COMPANY}  |  {label}")
        canvas.drawRightString(A4[0] - 56, 30, f"Page {doc.page}")
        canvas.restoreState()

    return draw


def build_manual(path: Path) -> None:
    margins = dict.fromkeys(("leftMargin", "rightMargin", "topMargin", "bottomMargin"), 56)
    meta = {"title": C.MANUAL_TITLE, "author": C.COMPANY, "subject": "T-series user manual"}
    doc = SimpleDocTemplate(str(path), pagesize=A4, invariant=1, **margins, **meta)
    story = []
    for i, page in enumerate(C.MANUAL_PAGES):
        if i:
            story.append(PageBreak())
        story += flowables(page)
    foot = _footer("NW-MAN-T edition 2024.2")
    doc.build(story, onFirstPage=foot, onLaterPages=foot)


def _image_page(canvas, img: Image.Image) -> None:
    canvas.drawImage(ImageReader(scan_to_jpeg(img)), 0, 0, width=A4[0], height=A4[1])
    canvas.showPage()


def build_scanned_letter(path: Path) -> None:
    c = Canvas(str(path), pagesize=A4, invariant=1)
    c.setTitle("Scan 2024-03-14")  # a scanner sets no useful metadata, and no text layer
    c.setCreator("Scanner")
    _image_page(c, render_scan(C.WARRANTY_LETTER, seed=1403))
    c.save()


def build_mixed_bulletin(path: Path) -> None:
    """Page 1: normal text page. Page 2: image-only scanned field service note."""

    c = Canvas(str(path), pagesize=A4, invariant=1)
    c.setTitle(C.BULLETIN_TITLE)
    c.setAuthor(C.COMPANY)
    story = flowables(C.BULLETIN_PAGE1)
    Frame(56, 56, A4[0] - 112, A4[1] - 112).addFromList(story, c)
    if story:
        raise RuntimeError("bulletin page 1 text does not fit on one page")
    _footer("IB-2024-07")(c, type("Doc", (), {"page": 1})())
    c.showPage()
    _image_page(c, render_scan(C.BULLETIN_PAGE2, seed=207))
    c.save()


# --- Office formats ---------------------------------------------------------


def normalize_zip(path: Path) -> None:
    """Fix zip timestamps and docProps dates so OOXML output is byte-stable."""
    with zipfile.ZipFile(path) as zin:
        entries = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>" + FIXED_ISO.encode(), data
                )
            info = zipfile.ZipInfo(name, date_time=(2024, 8, 1, 9, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zout.writestr(info, data)


def build_docx(path: Path) -> None:
    doc = Document()
    cp = doc.core_properties
    cp.title, cp.author, cp.created, cp.modified = C.POLICY_TITLE, C.COMPANY, FIXED_DATE, FIXED_DATE
    cp.last_modified_by, cp.revision = C.COMPANY, 3
    for kind, val in C.POLICY:
        if kind == "title":
            doc.add_heading(val, level=0)
        elif kind in ("h1", "h2"):
            doc.add_heading(val, level=int(kind[1]))
        elif kind == "p":
            doc.add_paragraph(val)
        elif kind == "table":
            t = doc.add_table(rows=len(val), cols=len(val[0]))
            t.style = "Table Grid"
            for r, row in enumerate(val):
                for col, text in enumerate(row):
                    t.cell(r, col).text = text
                    if r == 0:
                        t.cell(r, col).paragraphs[0].runs[0].bold = True
    doc.save(path)
    normalize_zip(path)


def build_pptx(path: Path) -> None:
    prs = Presentation()
    cp = prs.core_properties
    cp.title, cp.author, cp.created, cp.modified = (
        "Firmware 4.2 Release Notes",
        C.COMPANY,
        FIXED_DATE,
        FIXED_DATE,
    )
    cp.last_modified_by, cp.revision = C.COMPANY, 1
    for i, (title, body) in enumerate(C.SLIDES):
        slide = prs.slides.add_slide(prs.slide_layouts[0 if i == 0 else 1])
        slide.shapes.title.text = title
        ph = slide.placeholders[1]
        if isinstance(body, str):
            ph.text = body
        else:
            tf = ph.text_frame
            tf.text = body[0]
            for line in body[1:]:
                tf.add_paragraph().text = line
    prs.save(path)
    normalize_zip(path)


def build_xlsx(path: Path) -> None:
    wb = Workbook()
    wb.properties.creator, wb.properties.title = C.COMPANY, "T-series compatibility and error codes"
    wb.properties.created = wb.properties.modified = FIXED_DATE
    sheets = [
        ("HVAC Compatibility", C.COMPAT_HEADER, C.COMPAT_ROWS, [44, 8, 8, 10, 44]),
        ("Error Codes", C.ERROR_HEADER, C.ERROR_ROWS, [8, 36, 52, 56]),
    ]
    for i, (name, header, rows, widths) in enumerate(sheets):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = name
        ws.append(header)
        for row in rows:
            ws.append(row)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for col, wdt in zip("ABCDE", widths, strict=False):
            ws.column_dimensions[col].width = wdt
        ws.freeze_panes = "A2"
    wb.save(path)
    normalize_zip(path)


# --- golden set -------------------------------------------------------------


def write_questions() -> None:
    rows = [dict(question=q, answer=a, source=s, page=p) for q, a, s, p in C.QUESTIONS]
    with open(HERE / "questions.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    md = [
        "# Sample golden questions",
        "",
        "Questions about the fictional Northwind T-series support documents in",
        "`samples/acme-support/`. `Answer` is a snippet found in the source (case and",
        "whitespace may differ; OCR sources may hold small recognition errors). `Page` is",
        "1-based: the PDF page, the slide number for PPTX, the sheet number for XLSX,",
        "and 1 for formats without pages. Generated by `build_samples.py` from",
        "`_content.py`; the same rows are in `questions.jsonl`.",
        "",
        "Only-here facts: the CarePlus price and the 30-day claim window exist only in the",
        "scanned `warranty-policy-letter-scanned.pdf`; the part number WB-300R (and the",
        "FSN-2024-07 serial range) exist only on the scanned page 2 of",
        "`installer-bulletin-2024-07.pdf`.",
        "",
        "| # | Question | Answer | Source | Page |",
        "|---|---|---|---|---|",
    ]
    for i, r in enumerate(rows, 1):
        md.append(f"| {i} | {r['question']} | {r['answer']} | `{r['source']}` | {r['page']} |")
    (HERE / "QUESTIONS.md").write_text("\n".join(md) + "\n", encoding="utf-8")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    build_manual(OUT / "t-series-user-manual.pdf")
    build_scanned_letter(OUT / "warranty-policy-letter-scanned.pdf")
    build_mixed_bulletin(OUT / "installer-bulletin-2024-07.pdf")
    build_docx(OUT / "refund-and-sla-policy.docx")
    build_pptx(OUT / "firmware-release-notes-4-2.pptx")
    build_xlsx(OUT / "compatibility-and-error-codes.xlsx")
    build_card(OUT / "wifi-reconnect-card.png")
    write_questions()
    for p in sorted(OUT.iterdir()):
        print(f"{p.stat().st_size:>9,}  {p.name}")


if __name__ == "__main__":
    main()
