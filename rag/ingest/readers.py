"""Ingest, step 1: turn a file of any supported format into decoded text (or JSONL records)."""
from __future__ import annotations

import io
import json
from pathlib import Path

from rag.errors import InputError

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
SUPPORTED = TEXT_SUFFIXES | {".html", ".htm", ".pdf", ".docx", ".jsonl"}
MAX_FILE_BYTES = 50_000_000  # 50 MB, as the messages say
MAX_DOCX_INFLATED = 200_000_000  # what a .docx may unpack to


def decode_bytes(data: bytes, name: str) -> str:
    """Decode UTF-8 (with or without BOM), GBK/GB18030 or Big5 text; refuse binary data."""
    if not data.strip():
        raise InputError(f"{name}: the file is empty")
    if b"\x00" in data[:4096]:
        raise InputError(f"{name}: looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["gb18030", "big5", "utf_16", "cp1252"]).best()
    if best is None or best.chaos > 0.3:
        raise InputError(f"{name}: the text encoding could not be recognised (tried UTF-8, GB18030, Big5)")
    return str(best)


def _html_text(raw: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "nav", "header", "footer", "aside", "noscript", "form"]):
        tag.decompose()
    main = soup.find("article") or soup.find("main") or soup.body or soup
    lines = []
    for el in main.find_all(["h1", "h2", "h3", "h4", "p", "li", "pre", "blockquote"]):
        text = " ".join(el.get_text(" ", strip=True).split())
        if text:
            lines.append(("# " + text) if el.name in {"h1", "h2"} else text)
    return "\n\n".join(lines) if lines else main.get_text("\n", strip=True)


def _pdf_text(data: bytes, name: str) -> str:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a truncated file is reported below, once
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise InputError(f"{name}: the PDF could not be read ({exc.__class__.__name__}); is it truncated?") from None
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise InputError(f"{name}: the PDF has no text layer (scanned pages need OCR first)")
    return text


def _docx_text(data: bytes, name: str) -> str:
    import zipfile

    from docx import Document

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:  # a zip bomb is refused before anything is inflated
            inflated = sum(info.file_size for info in zf.infolist())
        if inflated > MAX_DOCX_INFLATED:
            raise InputError(f"{name}: the .docx would unpack to {inflated / 1e6:.0f} MB "
                             f"(over {MAX_DOCX_INFLATED // 1_000_000} MB); refused")
        doc = Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise InputError(f"{name}: the .docx file is damaged ({exc.__class__.__name__})") from None
    lines = []
    for para in doc.paragraphs:
        text = para.text.strip()
        if text:
            style = (para.style.name or "").lower() if para.style is not None else ""
            lines.append(("# " + text) if style.startswith(("heading", "title")) else text)
    return "\n\n".join(lines)


def read_text(path: Path) -> str:
    """The text of a .txt/.md/.html/.pdf/.docx file, ready for the page parser."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise InputError(f"{path.name}: unsupported file type '{suffix}' (supported: {', '.join(sorted(SUPPORTED))})")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(f"{path.name}: {size / 1e6:.0f} MB is over the {MAX_FILE_BYTES // 1_000_000} MB limit")
    data = path.read_bytes()
    if suffix == ".pdf":
        return _pdf_text(data, path.name)
    if suffix == ".docx":
        return _docx_text(data, path.name)
    text = decode_bytes(data, path.name)
    return _html_text(text) if suffix in {".html", ".htm"} else text


def read_jsonl(path: Path) -> list[dict]:
    """Records of an exported archive: one JSON object a line with `text` and optional `id`, `title`, `date`."""
    records = []
    text = decode_bytes(path.read_bytes(), path.name)
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            raise InputError(f"{path.name}: line {lineno} is not valid JSON") from None
        if not isinstance(obj, dict) or not str(obj.get("text", "")).strip():
            raise InputError(f"{path.name}: line {lineno} has no 'text' field")
        records.append(obj)
    return records
