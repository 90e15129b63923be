"""Ingest stage: source files -> Articles, with a report line for every file that could not be read."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import InputError
from rag.ingest.page import parse_page
from rag.ingest.readers import SUPPORTED, read_jsonl, read_text
from rag.types import Article, content_id


@dataclass
class FileResult:
    name: str
    sha256: str
    articles: list[Article] = field(default_factory=list)
    error: str = ""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def list_sources(folder: Path) -> list[Path]:
    """Every file under `folder` (recursively), hidden files left out, in a stable order."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and not any(s.startswith(".") for s in p.parts[len(folder.parts):]))


def _records_to_articles(records: list[dict], source: str) -> list[Article]:
    articles = []
    for rec in records:
        text = re.sub(r"\n{3,}", "\n\n", str(rec["text"]).strip())
        title = str(rec.get("title") or "").strip() or text.split("\n", 1)[0][:40]
        articles.append(Article(
            id=str(rec.get("id") or content_id(source, title, text)), source=source, title=title,
            text=text, date=str(rec.get("date") or ""),
        ))
    return articles


def read_file(path: Path, name: str | None = None) -> FileResult:
    """Parse one file; a file that cannot be read comes back with `error` set instead of raising."""
    name = name or path.name
    result = FileResult(name=name, sha256=file_sha256(path))
    try:
        if path.suffix.lower() == ".jsonl":
            result.articles = _records_to_articles(read_jsonl(path), name)
        else:
            result.articles = parse_page(read_text(path), name)
        if not result.articles:
            result.error = "no article text found"
    except InputError as exc:
        result.error = str(exc).removeprefix(f"{path.name}: ")
    except OSError as exc:
        result.error = f"could not be read ({exc.strerror or exc})"
    return result


__all__ = ["FileResult", "SUPPORTED", "file_sha256", "list_sources", "parse_page", "read_file"]
